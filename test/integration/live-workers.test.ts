/**
 * The live map with workers > 1 when a worker stops answering: the page's header counts the
 * workers that answered against the workers setting (1/2), not against the workers still asked
 * (which made a hung or restarting worker read as 1/1: a whole server's picture). Uses the built
 * CLI (dist/main.js) and a real SIGSTOP'd worker.
 */
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/app.js';
import { requireBuiltCli, type ServeProcess, startServe } from '../support/cli.js';
import { buildBundle, CHECKOUT_ONLY_POLICY, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
requireBuiltCli();
let bundle = '';
let server: ServeProcess | undefined;
let stopped: number | undefined;
beforeAll(() => {
  if (!tool.skip) bundle = buildBundle(tool.opa, { 'policy.rego': CHECKOUT_ONLY_POLICY }, path.join(tempDir(), 'bundle.tar.gz'), { revision: 'live-workers' });
});
afterEach(() => {
  if (stopped) process.kill(stopped, 'SIGCONT');
  server?.child.kill('SIGKILL');
  server = undefined;
  stopped = undefined;
});

describe.skipIf(tool.skip)('admin_ui with workers: 2', () => {
  it('counts a worker that stopped answering as missing (1/2 workers)', { timeout: 60_000 }, async () => {
    server = await startServe(bundle, ['--workers', '2', '--admin-ui', 'true']);
    const admin = `http://127.0.0.1:${server.adminPort}`;
    const json = async (url: string) => (await (await fetch(url)).json()) as Record<string, any>;
    await eventually(async () => (await json(`${admin}/readyz`)).ready === true, 15_000);
    const snapshot = await json(`${admin}/live/snapshot`);
    expect(snapshot.workers).toEqual({ reporting: 2, running: 2, configured: 2 });
    // The primary knows when the workers switched to the revision (the header's load time).
    expect(snapshot.policy.revision).toBe('live-workers');
    expect(Date.parse(snapshot.policy.loaded_at)).toBe(Date.parse((await json(`${admin}/readyz`)).policy.loaded_at));

    stopped = (await json(`${admin}/readyz`)).workers[0].pid as number;
    process.kill(stopped, 'SIGSTOP');
    // Asked but silent, then (no heartbeat for 3 s) no longer asked: either way one of two answered.
    await eventually(async () => (await json(`${admin}/live/snapshot`)).workers.running === 1, 20_000);
    expect((await json(`${admin}/live/snapshot`)).workers).toEqual({ reporting: 1, running: 1, configured: 2 });
  });
});
