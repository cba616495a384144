/**
 * `gatehouse serve --workers 2` when a replacement worker cannot be forked (the real CLI,
 * dist/main.js, a real compiled bundle). The primary runs under `ulimit -n 100` and is made to hold
 * every descriptor it may open: both workers are stopped (SIGSTOP), so the connections the primary
 * hands them stay its own until they are taken. A worker killed then cannot be replaced: spawn()
 * fails with EMFILE, which node reports as an 'error' on the worker and never as an 'exit'. The
 * slot must try again (with backoff) once descriptors are free, not wait for that exit forever.
 * Linux: `bash -c "ulimit -n"`.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/app.js';
import { requireBuiltCli } from '../support/cli.js';
import { serveWithDescriptorLimit } from '../support/serve-limited.js';
import { POLICY, alive, connection, readyz } from '../support/workers.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { CHECKOUT, checkRequestJson } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
requireBuiltCli();
const DESCRIPTORS = 100;
const CONNECTIONS = 150;

const stopped: number[] = [];
const children: ChildProcessWithoutNullStreams[] = [];
const sockets: net.Socket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const pid of stopped.splice(0)) if (alive(pid)) process.kill(pid, 'SIGCONT');
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

describe.skipIf(tool.skip)('serve --workers 2: a replacement worker that cannot be forked', { timeout: 60_000 }, () => {
  it('is tried again once the primary has descriptors, and the server serves with two workers again', async () => {
    const bundle = buildBundle(tool.opa, { 'policy.rego': POLICY('a') }, path.join(tempDir(), 'bundle.tar.gz'));
    const server = await serveWithDescriptorLimit(bundle, DESCRIPTORS, ['--decision-log', 'off', '--workers', '2']);
    children.push(server.child);
    await eventually(async () => (await readyz(server)).ready, 15_000);
    const [first, second] = (await readyz(server)).workers.map((worker) => worker.pid!);
    for (const pid of [first!, second!]) {
      process.kill(pid, 'SIGSTOP');
      stopped.push(pid);
    }

    // The primary accepts until it runs out of descriptors (libuv then closes what it cannot accept).
    let refused = 0;
    for (let i = 0; i < CONNECTIONS; i++) {
      const socket = net.connect(server.grpcPort, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.on('close', () => refused++);
      sockets.push(socket);
    }
    await eventually(() => refused > 0, 10_000);

    process.kill(first!, 'SIGKILL');
    await eventually(() => server.stderr().includes('could not start a worker process'), 10_000);
    expect(server.stderr()).toMatch(/could not start a worker process: spawn .*EMFILE/);

    // Descriptors come back: the clients leave and the stopped worker takes what it was handed.
    for (const socket of sockets.splice(0)) socket.destroy();
    process.kill(second!, 'SIGCONT');
    stopped.splice(0);

    await eventually(async () => {
      const state = await readyz(server);
      return state.ready && state.workers.every((worker) => worker.started) && state.workers[0]!.pid !== first;
    }, 30_000);
    const client = connection(server);
    try {
      expect((await client.check(checkRequestJson({ source: CHECKOUT }))).allowed).toBe(true);
    } finally {
      client.close();
    }
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
