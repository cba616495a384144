/**
 * A real `gatehouse serve` process through SIGTERM: health turns NOT_SERVING at once (an answer,
 * not an RPC error), Checks keep being answered by the policy while the drain lasts, a second
 * SIGTERM ends the drain, and the process exits 0. The drain here is long (60 s) and ended by the
 * second signal, so nothing depends on how fast the machine is.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/app.js';
import { MAIN, requireBuiltCli, type ServeProcess, startServe } from '../support/cli.js';
import { ROOT } from '../support/tools.js';
import { TestClient } from '../support/grpc-client.js';
import { buildExampleBundle, tempDir } from '../support/policy.js';
import { CHECKOUT, INVENTORY, PAYMENTS, checkRequestJson } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
requireBuiltCli();

/** Polls health until it is NOT_SERVING; any other answer than SERVING, or an RPC error, fails. */
async function untilNotServing(client: TestClient, service = ''): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const status = await client.health(service);
    if (status === 'NOT_SERVING') return;
    expect(status).toBe('SERVING');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('health never turned NOT_SERVING');
}

describe.skipIf(tool.skip)('SIGTERM drains before it stops', () => {
  let server: ServeProcess | undefined;
  const clients: TestClient[] = [];
  const client = (port: number) => {
    const c = new TestClient(`127.0.0.1:${port}`);
    clients.push(c);
    return c;
  };
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
  });

  it('says NOT_SERVING at once, keeps answering Checks per policy, ends the drain on a second SIGTERM and exits 0', async () => {
    const bundle = buildExampleBundle(tool.opa, tempDir());
    server = await startServe(bundle, ['--shutdown-drain-ms', '60000']);
    const early = client(server.grpcPort);
    expect((await early.check(checkRequestJson({ source: CHECKOUT, destination: INVENTORY }))).allowed).toBe(true);
    expect(await early.health()).toBe('SERVING');

    server.child.kill('SIGTERM');
    await untilNotServing(early);
    expect(await early.health('envoy.service.auth.v3.Authorization')).toBe('NOT_SERVING');
    const ready = await fetch(`http://127.0.0.1:${server.adminPort}/readyz`);
    expect(ready.status).toBe(503);
    expect((await ready.json()).reason).toMatch(/draining/);

    // During the drain: on the connection Envoy already has, and on a new one, the policy decides.
    const late = client(server.grpcPort);
    for (const c of [early, late]) {
      const allowed = await c.check(checkRequestJson({ source: CHECKOUT, destination: INVENTORY }));
      expect(allowed).toMatchObject({ allowed: true, rpcCode: 0 });
      const denied = await c.check(checkRequestJson({ source: PAYMENTS, destination: INVENTORY }));
      expect(denied).toMatchObject({ allowed: false, rpcCode: 7, httpStatus: 403, metadata: { reason_code: 'policy_denied' } });
    }
    expect(server.child.exitCode).toBeNull();

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.stderr()).toContain('second signal: ending the drain now');
    expect(server.stderr()).toContain('stopped after in-flight Checks finished');
  });

  it('with shutdown_drain_ms 0 stops without draining', async () => {
    const bundle = buildExampleBundle(tool.opa, tempDir());
    server = await startServe(bundle, ['--shutdown-drain-ms', '0']);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.stderr()).not.toContain('draining');
    expect(server.stderr()).toContain('stopped after in-flight Checks finished');
  });

  it('exits 0 on TERM, TERM, INT in quick succession', async () => {
    const bundle = buildExampleBundle(tool.opa, tempDir());
    server = await startServe(bundle, ['--shutdown-drain-ms', '60000']);
    server.child.kill('SIGTERM');
    server.child.kill('SIGTERM');
    server.child.kill('SIGINT');
    expect(await server.exited).toBe(0);
    expect(server.stderr()).toContain('stopped after in-flight Checks finished');
  });

  it('exits 0 on SIGTERM while start-up waits for a first HTTP bundle that does not come', async () => {
    let requested = false;
    const hanging: Server = createServer(() => (requested = true)); // never answers
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/bundle.tar.gz`;
    const child = spawn(process.execPath, [MAIN, 'serve', '--bundle', url, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0'], { cwd: ROOT });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await eventually(() => requested, 15_000);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).toContain('shutting down before start-up finished');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      hanging.closeAllConnections();
      hanging.close();
    }
  });
});
