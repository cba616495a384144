/**
 * `gatehouse serve` on a unix socket (sidecar mode) after a gatehouse on the same path was killed
 * with SIGKILL: its socket file stays behind (in Kubernetes, in an emptyDir that outlives the
 * container), and the next start must serve on that path instead of failing with EADDRINUSE.
 * Single process (grpc-js binds) and workers (the cluster primary binds). Real CLI, real bundle.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run, startServe, type ServeProcess } from '../support/cli.js';
import { buildBundle, CHECKOUT_ONLY_POLICY, tempDir } from '../support/policy.js';
import { CHECKOUT } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
const servers: ServeProcess[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.child.kill('SIGKILL');
});

describe.skipIf(tool.skip)('serve on a unix socket a killed gatehouse left behind', () => {
  it.each(['1', '2'])('starts and serves on it (workers %s)', async (workers) => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, { 'policy.rego': CHECKOUT_ONLY_POLICY }, path.join(dir, 'bundle.tar.gz'));
    const socket = path.join(dir, 'gatehouse.sock');
    const args = ['--workers', workers, '--addr', `unix://${socket}`, '--decision-log', 'off'];
    const first = await startServe(bundle, args);
    servers.push(first);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(existsSync(socket)).toBe(true);

    const second = await startServe(bundle, args);
    servers.push(second);
    const allowed = run('call', '--addr', `unix://${socket}`, '--principal', CHECKOUT, '--method', 'GET', '--path', '/');
    expect(allowed.stdout).toContain('ALLOWED');
    expect(allowed.status).toBe(0);
  }, 60_000);
});
