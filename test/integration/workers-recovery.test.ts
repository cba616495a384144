/**
 * `gatehouse serve --workers 2` when a worker dies or hangs at a bad moment (the real CLI, dist/main.js,
 * with a real compiled bundle): a replacement during a bundle switch ends on the committed revision,
 * a replacement serves the configuration the primary loaded (not the file as it is now), summed
 * counters never go down, and a stopped (SIGSTOP) worker is reported not ready, then replaced.
 */
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/app.js';
import { MAIN, type ServeProcess, serveProcesses, startServe } from '../support/cli.js';
import { POLICY, alive, connection, metricsText, readyz, series, sumOf } from '../support/workers.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { CHECKOUT, checkRequestJson } from '../support/requests.js';
import { ROOT, opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

const stopped: number[] = [];
const servers = serveProcesses();
afterEach(() => {
  for (const pid of stopped.splice(0)) if (alive(pid)) process.kill(pid, 'SIGCONT');
});

async function serve(bundle: string, args: string[]): Promise<ServeProcess> {
  const server = await startServe(bundle, ['--workers', '2', ...args]);
  servers.push(server);
  await eventually(async () => (await readyz(server)).ready, 15_000);
  return server;
}

/** Sends `count` Checks over `connections` new connections; all must be allowed. */
async function checks(server: ServeProcess, connections: number, count: number): Promise<void> {
  const clients = Array.from({ length: connections }, () => connection(server));
  try {
    for (let i = 0; i < count / connections; i++) {
      const replies = await Promise.all(clients.map((client) => client.check(checkRequestJson({ source: CHECKOUT }))));
      expect(replies.every((reply) => reply.allowed)).toBe(true);
    }
  } finally {
    for (const client of clients) client.close();
  }
}

describe.skipIf(tool.skip)('serve --workers 2: workers that die or hang', { timeout: 60_000 }, () => {
  it('a worker replaced during a two-phase bundle switch ends on the committed revision', async () => {
    const dir = tempDir();
    const bundle = path.join(dir, 'bundle.tar.gz');
    buildBundle(tool.opa, { 'policy.rego': POLICY('a') }, bundle, { revision: 'r1' });
    const server = await serve(bundle, ['--decision-log', 'off', '--reload-debounce-ms', '50', '--activation-gate-inputs', '0']);
    const before = await readyz(server);
    const [first, second] = before.workers.map((w) => w.pid!);

    // Worker 2 cannot answer the prepare; worker 1 prepares, then dies before the commit.
    process.kill(second!, 'SIGSTOP');
    stopped.push(second!);
    buildBundle(tool.opa, { 'policy.rego': POLICY('b') }, path.join(dir, 'next.tar.gz'), { revision: 'r2' });
    renameSync(path.join(dir, 'next.tar.gz'), bundle);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    process.kill(first!, 'SIGKILL');
    // Its replacement starts with r1 (the committed revision until now) in the same slot.
    await eventually(async () => {
      const state = await readyz(server);
      return state.workers[0]!.pid !== first && state.workers[0]!.started;
    }, 15_000);
    process.kill(second!, 'SIGCONT');
    stopped.splice(stopped.indexOf(second!), 1);

    await eventually(async () => {
      const state = await readyz(server);
      return state.policy?.revision === 'r2' && state.workers.every((w) => w.revision === 'r2') && state.ready;
    }, 15_000);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('a replacement serves the configuration the primary loaded, not the config file as edited since', async () => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, { 'policy.rego': POLICY('a') }, path.join(dir, 'bundle.tar.gz'), { revision: 'r1' });
    const config = path.join(dir, 'gatehouse.yaml');
    writeFileSync(config, `bundle: ${bundle}\naddr: 127.0.0.1:0\nadmin_addr: 127.0.0.1:0\nworkers: 2\ndecision_log: "off"\nshutdown_drain_ms: 0\n`);
    const child = spawn(process.execPath, [MAIN, 'serve', '--config', config], { cwd: ROOT });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await eventually(() => stderr.includes('gatehouse is serving'), 15_000);
    const serving = JSON.parse(stderr.split('\n').find((line) => line.includes('gatehouse is serving'))!) as { grpc_port: number; admin_port: number };
    const server: ServeProcess = { child, grpcPort: serving.grpc_port, adminPort: serving.admin_port, stdout: () => '', stderr: () => stderr, exited };
    servers.push(server);
    await eventually(async () => (await readyz(server)).ready, 15_000);

    // The file now names another port and holds a key this version does not know.
    const other = net.createServer();
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const otherPort = (other.address() as AddressInfo).port;
    await new Promise((resolve) => other.close(resolve));
    writeFileSync(config, `bundle: ${bundle}\naddr: 127.0.0.1:${otherPort}\nadmin_addr: 127.0.0.1:0\nworkers: 2\ndecision_log: "off"\n`);
    appendFileSync(config, 'no_such_key: 1\n');

    const victim = (await readyz(server)).workers[0]!.pid!;
    process.kill(victim, 'SIGKILL');
    await eventually(async () => {
      const state = await readyz(server);
      return state.ready && state.workers[0]!.pid !== victim && state.workers[0]!.ready;
    }, 15_000);
    expect(stderr).not.toContain('worker failed to start');
    expect((await readyz(server)).workers.map((w) => w.restarts)).toEqual([1, 0]);
    // Still one listener: the new port in the file is not served.
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(otherPort, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(false)));
      socket.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
    await checks(server, 4, 8);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('summed counters never go down when a worker is killed and replaced', async () => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, { 'policy.rego': POLICY('a') }, path.join(dir, 'bundle.tar.gz'), { revision: 'r1' });
    const server = await serve(bundle, ['--decision-log', 'off']);
    await checks(server, 4, 200);
    const before = sumOf(await metricsText(server), 'gatehouse_decisions_total');
    expect(before).toBeGreaterThanOrEqual(200);
    const victim = (await readyz(server)).workers[0]!;
    process.kill(victim.pid!, 'SIGKILL');
    let last = before;
    for (let i = 0; i < 15; i++) {
      const now = sumOf(await metricsText(server), 'gatehouse_decisions_total');
      expect(now).toBeGreaterThanOrEqual(last);
      last = now;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await eventually(async () => {
      const state = await readyz(server);
      return state.ready && state.workers[0]!.pid !== victim.pid && state.workers[0]!.ready;
    }, 15_000);
    expect(sumOf(await metricsText(server), 'gatehouse_decisions_total')).toBeGreaterThanOrEqual(before);
    await checks(server, 4, 40);
    expect(sumOf(await metricsText(server), 'gatehouse_decisions_total')).toBeGreaterThanOrEqual(before + 40);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('a stopped worker is not ready, keeps its counters in /metrics, and is killed and replaced', async () => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, { 'policy.rego': POLICY('a') }, path.join(dir, 'bundle.tar.gz'), { revision: 'r1' });
    const server = await serve(bundle, ['--decision-log', 'off']);
    await checks(server, 4, 100);
    const before = sumOf(await metricsText(server), 'gatehouse_decisions_total');
    const victim = (await readyz(server)).workers[1]!.pid!;
    process.kill(victim, 'SIGSTOP');
    stopped.push(victim);

    await eventually(async () => !(await readyz(server)).workers[1]!.ready, 10_000);
    const hung = await readyz(server);
    expect(hung.ready).toBe(false);
    expect(hung.workers[1]!.reason).toMatch(/not answering heartbeats/);
    // Its counters stay in the sum (from its last reply) while it does not answer.
    expect(sumOf(await metricsText(server), 'gatehouse_decisions_total')).toBeGreaterThanOrEqual(before);

    await eventually(() => !alive(victim) || server.stderr().includes('killing it (SIGKILL)'), 20_000);
    await eventually(async () => {
      const state = await readyz(server);
      return state.ready && state.workers[1]!.pid !== victim && state.workers[1]!.ready;
    }, 20_000);
    const after = await readyz(server);
    expect(after.workers[1]!.restarts).toBe(1);
    expect(series(await metricsText(server), 'gatehouse_worker_restarts_total')).toBe(1);
    expect(sumOf(await metricsText(server), 'gatehouse_decisions_total')).toBeGreaterThanOrEqual(before);
    const killLine = server.stderr().split('\n').find((line) => line.includes('did not answer heartbeats'));
    expect(JSON.parse(killLine!)).toMatchObject({ worker: 2, pid: victim });
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('a connection handed to a worker that dies before taking it is served by the other worker', async () => {
    const bundle = buildBundle(tool.opa, { 'policy.rego': POLICY('a') }, path.join(tempDir(), 'bundle.tar.gz'));
    const server = await serve(bundle, ['--decision-log', 'off']);
    const victim = (await readyz(server)).workers[0]!.pid!;
    // Stopped, it is still a target for 3 s (until it misses heartbeats): the primary hands it
    // connections it cannot take.
    process.kill(victim, 'SIGSTOP');
    stopped.push(victim);
    const clients = Array.from({ length: 4 }, () => connection(server));
    try {
      let settled = 0;
      const replies = clients.map((client) => client.check(checkRequestJson({ source: CHECKOUT })).finally(() => settled++));
      await eventually(() => settled >= 1, 2000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Some connections went to the stopped worker: their Checks wait.
      expect(settled).toBeLessThan(4);
      process.kill(victim, 'SIGKILL');
      // Handed on when it exits (node:cluster's own listener lost them: those Checks hung).
      const answered = await Promise.all(replies);
      expect(answered.map((reply) => reply.allowed)).toEqual([true, true, true, true]);
    } finally {
      for (const client of clients) client.close();
    }
  });
});
