/**
 * `gatehouse serve --workers 2`, the real CLI (dist/main.js) with a real compiled bundle: one
 * listener spread over two worker processes that stay one server to the operator (one admin port,
 * one decision log, one bundle revision, one shutdown), and a worker that dies is replaced.
 */
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import http2 from 'node:http2';
import tls, { type TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { eventually } from '../support/app.js';
import { MAIN, type ServeProcess, serveProcesses, startServe } from '../support/cli.js';
import { ROOT } from '../support/tools.js';
import { POLICY, alive, connection, metricsText, readyz, series, sumOf } from '../support/workers.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { CHECKOUT, checkRequestJson, encodeRequest } from '../support/requests.js';
import { createCa, issueLeaf, issueSvid } from '../support/pki.js';
import { framed } from '../support/raw-grpc.js';
import { structToJson } from '../../src/authz/proto-json.js';
import { authzProtos, CHECK_METHOD_PATH } from '../../src/grpc/protos.js';
import { opaOrSkip } from '../support/tools.js';

/**
 * One TLS connection offering `session`, one Check over HTTP/2, closed; whether TLS resumed, the
 * last session ticket the server sent, and the Check's decision id.
 */
async function tlsVisit(port: number, caCert: string, client: { cert: string; key: string }, session?: Buffer) {
  let socket: TLSSocket | undefined;
  let ticket: Buffer | undefined;
  const h2 = http2.connect(`https://localhost:${port}`, {
    createConnection: () => {
      socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ALPNProtocols: ['h2'], ca: readFileSync(caCert), cert: readFileSync(client.cert), key: readFileSync(client.key), session });
      socket.on('session', (s: Buffer) => (ticket = s));
      return socket;
    },
  });
  try {
    const reply = await new Promise<Record<string, any>>((resolve, reject) => {
      h2.on('error', reject);
      const stream = h2.request({ ':method': 'POST', ':path': CHECK_METHOD_PATH, 'content-type': 'application/grpc', te: 'trailers' });
      const data: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => data.push(chunk));
      stream.on('error', reject);
      stream.on('close', () => resolve(authzProtos().decodeCheckResponse(Buffer.concat(data).subarray(5)) as Record<string, any>));
      stream.end(framed(encodeRequest(checkRequestJson({ source: CHECKOUT }))));
    });
    const metadata = structToJson(reply.dynamicMetadata) as Record<string, unknown>;
    return { resumed: socket!.isSessionReused(), session: ticket, decisionId: metadata.decision_id as string };
  } finally {
    await new Promise<void>((resolve) => h2.close(() => resolve()));
  }
}

/** Whether a process exists (signal 0). */

/** Like startServe, but the server leads its own process group (so the group can be signalled). */
async function startGroupLeader(bundle: string, args: string[]): Promise<ServeProcess> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--bundle', bundle, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0', '--workers', '2', ...args], { cwd: ROOT, detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await eventually(() => stderr.includes('gatehouse is serving'), 15_000);
  const serving = JSON.parse(stderr.split('\n').find((line) => line.includes('gatehouse is serving'))!) as { grpc_port: number; admin_port: number };
  return { child, grpcPort: serving.grpc_port, adminPort: serving.admin_port, stdout: () => stdout, stderr: () => stderr, exited };
}

const tool = opaOrSkip();

/** Decision-log lines of a file, every one parsed (a torn line fails JSON.parse). */
function decisionLines(file: string): Record<string, any>[] {
  const text = readFileSync(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, any>);
}

const servers = serveProcesses();

async function serve(bundle: string, args: string[]): Promise<ServeProcess> {
  const server = await startServe(bundle, ['--workers', '2', ...args]);
  servers.push(server);
  await eventually(async () => (await readyz(server)).ready, 15_000);
  return server;
}

// Each test starts three processes (primary and two workers); a full suite on two cores is slow.
describe.skipIf(tool.skip)('serve --workers 2', { timeout: 60_000 }, () => {
  it('spreads connections over both workers; /metrics sums them; the one decision log holds whole lines only', async () => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, { 'policy.rego': POLICY('a') }, path.join(dir, 'bundle.tar.gz'), { revision: 'r1' });
    const log = path.join(dir, 'decisions.log');
    const server = await serve(bundle, ['--decision-log', log, '--decision-cache', 'off']);
    const state = await readyz(server);
    expect(state.workers.map((w) => w.ready)).toEqual([true, true]);
    expect(new Set(state.workers.map((w) => w.pid)).size).toBe(2);

    // Lines of ~9 KiB (over PIPE_BUF) from 8 connections at once: torn lines would show here.
    const request = checkRequestJson({ source: CHECKOUT, headers: { 'x-padding': 'p'.repeat(9000) } });
    const clients = Array.from({ length: 8 }, () => connection(server));
    const replies = await Promise.all(clients.flatMap((client) => Array.from({ length: 40 }, () => client.check(request))));
    for (const client of clients) client.close();
    expect(replies.filter((reply) => reply.allowed)).toHaveLength(320);

    // Lines reach the primary asynchronously (batched over IPC); it counts them as it writes them.
    await eventually(async () => series(await metricsText(server), 'gatehouse_decision_log_lines_total{result="written"}') === 320);
    const metrics = await metricsText(server);
    expect(series(metrics, 'gatehouse_decision_log_lines_total{result="dropped"}')).toBe(0);
    expect(sumOf(metrics, 'gatehouse_decisions_total')).toBe(320);
    expect(series(metrics, 'gatehouse_check_duration_seconds_count{outcome="allow"}')).toBe(320);
    expect(series(metrics, 'gatehouse_workers')).toBe(2);
    expect(series(metrics, 'gatehouse_worker_restarts_total')).toBe(0);
    expect(series(metrics, 'gatehouse_ready')).toBe(1);
    expect(series(metrics, 'gatehouse_policy_info{revision="r1"}')).toBe(1);
    expect(series(metrics, 'gatehouse_policy_reloads_total{result="loaded"}')).toBe(1);

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    const lines = decisionLines(log);
    expect(lines).toHaveLength(320);
    expect(new Set(lines.map((line) => line.decision_id))).toEqual(new Set(replies.map((reply) => reply.metadata.decision_id)));
    // Both workers answered: each line names its worker.
    expect(new Set(lines.map((line) => line.labels.worker))).toEqual(new Set(['1', '2']));
  });

  it('drops and counts decision lines (whole batches) when the sink stops reading, and still shuts down', async () => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, { 'policy.rego': POLICY('a') }, path.join(dir, 'bundle.tar.gz'), { revision: 'r1' });
    // Nobody reads stdout: once the pipe (64 KiB) and the primary's buffer (64 KiB) are full, the sink is stalled.
    const server = await startServe(bundle, ['--workers', '2', '--decision-log-buffer-bytes', '65536'], { readStdout: false });
    servers.push(server);
    const request = checkRequestJson({ source: CHECKOUT, headers: { 'x-padding': 'p'.repeat(2000) } });
    const clients = Array.from({ length: 4 }, () => connection(server));
    let answered = 0;
    for (let batch = 0; batch < 10; batch++) {
      const replies = await Promise.all(clients.flatMap((client) => Array.from({ length: 50 }, () => client.check(request))));
      answered += replies.filter((reply) => reply.allowed).length;
    }
    for (const client of clients) client.close();
    expect(answered).toBe(2000);
    const count = (metrics: string, result: string) => series(metrics, `gatehouse_decision_log_lines_total{result="${result}"}`);
    // Every line is counted once, as written or dropped, wherever it was dropped (worker or primary).
    await eventually(async () => {
      const metrics = await metricsText(server);
      return count(metrics, 'written') + count(metrics, 'dropped') === 2000;
    });
    expect(count(await metricsText(server), 'dropped')).toBeGreaterThan(1000);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('switches every worker to a new bundle together; a bundle one worker refuses is refused by all, counted once, and the old keeps serving', async () => {
    const dir = tempDir();
    const bundle = path.join(dir, 'bundle.tar.gz');
    buildBundle(tool.opa, { 'policy.rego': POLICY('a') }, bundle, { revision: 'r1' });
    const log = path.join(dir, 'decisions.log');
    const server = await serve(bundle, ['--decision-log', log, '--reload-debounce-ms', '50', '--activation-gate-inputs', '0']);

    buildBundle(tool.opa, { 'policy.rego': POLICY('b') }, path.join(dir, 'next.tar.gz'), { revision: 'r2' });
    renameSync(path.join(dir, 'next.tar.gz'), bundle);
    await eventually(async () => {
      const state = await readyz(server);
      return state.ready && state.policy?.revision === 'r2' && state.workers.every((w) => w.revision === 'r2');
    }, 15_000);

    // A bundle without the entrypoint: the primary can read it, every worker refuses to load it.
    buildBundle(tool.opa, { 'policy.rego': 'package other\nimport rego.v1\nallow := true\n' }, path.join(dir, 'bad.tar.gz'), { revision: 'r3', entrypoint: 'other/allow' });
    renameSync(path.join(dir, 'bad.tar.gz'), bundle);
    await eventually(async () => series(await metricsText(server), 'gatehouse_policy_reloads_total{result="failed"}') === 1, 15_000);
    const state = await readyz(server);
    expect(state.workers.map((w) => w.revision)).toEqual(['r2', 'r2']);
    expect(state.ready).toBe(true);
    expect((state as unknown as { last_reload_error: { message: string } }).last_reload_error.message).toMatch(/^refused by worker \d \(and 1 other worker\): bundle does not define entrypoint/);
    expect(server.stderr().split('\n').filter((line) => line.includes('policy bundle rejected'))).toHaveLength(1);

    // The revision's load time is the switch to r2, kept through the refusal (the live map shows it too).
    const loadedAt = Date.parse(state.policy?.loaded_at ?? '');
    expect(loadedAt).toBeGreaterThan(Date.now() - 60_000);
    expect(loadedAt).toBeLessThanOrEqual(Date.now());

    const clients = Array.from({ length: 6 }, () => connection(server));
    const replies = await Promise.all(clients.map((client) => client.check(checkRequestJson({ source: CHECKOUT }))));
    for (const client of clients) client.close();
    expect(replies.every((reply) => reply.allowed)).toBe(true);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    const lines = decisionLines(log);
    expect(lines).toHaveLength(6);
    expect(new Set(lines.map((line) => Object.values(line.bundles as Record<string, { revision: string }>)[0]!.revision))).toEqual(new Set(['r2']));
    expect(new Set(lines.map((line) => line.labels.worker))).toEqual(new Set(['1', '2']));
  });

  it('polls a bundle server from the primary and moves every worker to the new revision', async () => {
    const dir = tempDir();
    let served = readFileSync(buildBundle(tool.opa, { 'policy.rego': POLICY('a') }, path.join(dir, 'r1.tar.gz'), { revision: 'r1' }));
    const bundleServer = createServer((req, res) => {
      const etag = `"${served.length}-${served.subarray(-16).toString('hex')}"`;
      if (req.headers['if-none-match'] === etag) res.writeHead(304).end();
      else res.writeHead(200, { etag, 'content-type': 'application/gzip' }).end(served);
    });
    await new Promise<void>((resolve) => bundleServer.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(bundleServer.address() as AddressInfo).port}/bundle.tar.gz`;
      const server = await serve(url, ['--decision-log', 'off', '--bundle-poll-min-ms', '100', '--bundle-poll-max-ms', '200']);
      expect((await readyz(server)).workers.map((w) => w.revision)).toEqual(['r1', 'r1']);
      served = readFileSync(buildBundle(tool.opa, { 'policy.rego': POLICY('b') }, path.join(dir, 'r2.tar.gz'), { revision: 'r2' }));
      await eventually(async () => (await readyz(server)).workers.every((w) => w.revision === 'r2'), 15_000);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    } finally {
      bundleServer.close();
    }
  });

  it('replaces a worker killed with SIGKILL, counts and logs it, while the other keeps answering', async () => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, { 'policy.rego': POLICY('a') }, path.join(dir, 'bundle.tar.gz'), { revision: 'r1' });
    const server = await serve(bundle, ['--decision-log', 'off']);
    const before = await readyz(server);
    const victim = before.workers[0]!;
    process.kill(victim.pid!, 'SIGKILL');
    await eventually(async () => series(await metricsText(server), 'gatehouse_worker_restarts_total') === 1);
    // Until the replacement is up, new connections go to the surviving worker.
    const clients = Array.from({ length: 4 }, () => connection(server));
    const replies = await Promise.all(clients.map((client) => client.check(checkRequestJson({ source: CHECKOUT }))));
    expect(replies.every((reply) => reply.allowed)).toBe(true);
    for (const client of clients) client.close();
    await eventually(async () => {
      const state = await readyz(server);
      return state.ready && state.workers[0]!.pid !== null && state.workers[0]!.pid !== victim.pid && state.workers[0]!.ready;
    }, 15_000);
    const after = await readyz(server);
    expect(after.workers[0]!.restarts).toBe(1);
    expect(after.workers[1]!.pid).toBe(before.workers[1]!.pid);
    const exitLine = server.stderr().split('\n').find((line) => line.includes('worker exited unexpectedly'));
    expect(JSON.parse(exitLine!)).toMatchObject({ worker: 1, pid: victim.pid, signal: 'SIGKILL' });
    expect(series(await metricsText(server), 'gatehouse_workers')).toBe(2);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('retries a replacement that cannot start with growing delays (no crash loop) while the other worker serves, until it can', async () => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, { 'policy.rego': POLICY('a') }, path.join(dir, 'bundle.tar.gz'), { revision: 'r1' });
    const ca = createCa(dir, 'mesh-ca', 'mesh.local');
    const serverCert = issueLeaf(dir, 'server', ca, 'subjectAltName=DNS:localhost,IP:127.0.0.1', 'basicConstraints=critical,CA:FALSE');
    const server = await serve(bundle, ['--decision-log', 'off', '--tls-cert-file', serverCert.cert, '--tls-key-file', serverCert.key, '--tls-reload-interval-ms', '600000']);
    const victim = (await readyz(server)).workers[0]!;
    // From now on a new worker cannot start: its certificate file is not PEM.
    copyFileSync(serverCert.cert, path.join(dir, 'good.pem'));
    writeFileSync(serverCert.cert, 'not a certificate\n');
    process.kill(victim.pid!, 'SIGKILL');
    const exits = () =>
      server
        .stderr()
        .split('\n')
        .filter((line) => line.includes('worker exited unexpectedly'))
        .map((line) => JSON.parse(line) as { worker: number; restart_in_ms: number; error?: string });
    await eventually(() => exits().length >= 3, 15_000);
    const [killed, ...failed] = exits();
    expect(killed!.restart_in_ms).toBe(500);
    expect(failed.slice(0, 2).map((exit) => exit.restart_in_ms)).toEqual([1000, 2000]);
    expect(failed.every((exit) => exit.worker === 1 && exit.error !== undefined)).toBe(true);
    // The other worker keeps serving meanwhile, and the server stays ready.
    const client = issueSvid(dir, 'inventory-envoy', 'spiffe://mesh.local/ns/shop/sa/inventory', ca);
    for (let i = 0; i < 3; i++) expect((await tlsVisit(server.grpcPort, ca.cert, client)).decisionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await readyz(server)).toMatchObject({ ready: true });
    // Fixed: the next attempt starts.
    copyFileSync(path.join(dir, 'good.pem'), serverCert.cert);
    await eventually(async () => {
      const state = await readyz(server);
      return state.workers.every((w) => w.ready);
    }, 15_000);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('drains every worker on SIGTERM: health NOT_SERVING at once, Checks still answered and logged, exit 0', async () => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, { 'policy.rego': POLICY('a') }, path.join(dir, 'bundle.tar.gz'), { revision: 'r1' });
    const log = path.join(dir, 'decisions.log');
    const server = await serve(bundle, ['--decision-log', log, '--shutdown-drain-ms', '1500']);
    const clients = Array.from({ length: 4 }, () => connection(server));
    const first = await Promise.all(clients.map((client) => client.check(checkRequestJson({ source: CHECKOUT }))));
    expect(first.every((reply) => reply.allowed)).toBe(true);
    expect(await Promise.all(clients.map((client) => client.health()))).toEqual(['SERVING', 'SERVING', 'SERVING', 'SERVING']);
    server.child.kill('SIGTERM');
    // Every connection (both workers) turns NOT_SERVING while still answering Checks.
    await eventually(async () => (await Promise.all(clients.map((client) => client.health()))).every((status) => status === 'NOT_SERVING'), 1000);
    const during = await Promise.all(clients.flatMap((client) => Array.from({ length: 25 }, () => client.check(checkRequestJson({ source: CHECKOUT })))));
    expect(during.every((reply) => reply.allowed)).toBe(true);
    expect(await server.exited).toBe(0);
    for (const client of clients) client.close();
    const ids = new Set(decisionLines(log).map((line) => line.decision_id));
    for (const reply of [...first, ...during]) expect(ids.has(reply.metadata.decision_id)).toBe(true);
    expect(server.stderr()).toContain('stopped after in-flight Checks finished on every worker');
  });

  // Node's cluster already hands the first worker's ticket keys to the others at listen time
  // (tls.Server _getServerData/_setServerData), but each certificate rotation builds a new TLS
  // context with fresh random keys in each worker. The primary's shared keys
  // (AppDeps.tlsTicketKeys) keep sessions resumable across workers after a rotation too.
  it('resumes TLS sessions on whichever worker the next connection lands on, before and after a certificate rotation', async () => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, { 'policy.rego': POLICY('a') }, path.join(dir, 'bundle.tar.gz'), { revision: 'r1' });
    const ca = createCa(dir, 'mesh-ca', 'mesh.local');
    const serverCert = issueLeaf(dir, 'server', ca, 'subjectAltName=DNS:localhost,IP:127.0.0.1', 'basicConstraints=critical,CA:FALSE');
    const client = issueSvid(dir, 'inventory-envoy', 'spiffe://mesh.local/ns/shop/sa/inventory', ca);
    const log = path.join(dir, 'decisions.log');
    const server = await serve(bundle, [
      '--decision-log', log, '--tls-cert-file', serverCert.cert, '--tls-key-file', serverCert.key, '--tls-client-ca-file', ca.cert, '--tls-reload-interval-ms', '100',
    ]);
    expect(server.stderr()).toContain('gatehouse is serving (mTLS) with 2 workers');
    const round = async () => {
      const visits = [await tlsVisit(server.grpcPort, ca.cert, client)];
      // The ticket of the full handshake (a resumed one need not send a new ticket).
      const ticket = visits[0]!.session;
      expect(ticket).toBeInstanceOf(Buffer);
      for (let i = 0; i < 5; i++) visits.push(await tlsVisit(server.grpcPort, ca.cert, client, ticket));
      return visits;
    };
    const before = await round();
    expect(before.map((visit) => visit.resumed)).toEqual([false, true, true, true, true, true]);

    const rotated = issueLeaf(dir, 'server-rotated', ca, 'subjectAltName=DNS:localhost,IP:127.0.0.1', 'basicConstraints=critical,CA:FALSE');
    copyFileSync(rotated.key, serverCert.key);
    copyFileSync(rotated.cert, serverCert.cert);
    await eventually(() => server.stderr().split('\n').filter((line) => line.includes('serving certificate rotated')).length === 2, 10_000);
    const after = await round();
    expect(after.map((visit) => visit.resumed)).toEqual([false, true, true, true, true, true]);

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    // The connections alternated between the workers (round-robin), so tickets were resumed across them.
    const workerOf = new Map(decisionLines(log).map((line) => [line.decision_id as string, line.labels.worker as string]));
    for (const visits of [before, after]) expect(new Set(visits.map((visit) => workerOf.get(visit.decisionId)))).toEqual(new Set(['1', '2']));
  });

  it('follows the primary: a TERM to the whole process group drains once (workers ignore it), a second TERM ends the drain, exit 0', async () => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, { 'policy.rego': POLICY('a') }, path.join(dir, 'bundle.tar.gz'), { revision: 'r1' });
    const server = await startGroupLeader(bundle, ['--decision-log', 'off', '--shutdown-drain-ms', '600000']);
    servers.push(server);
    await eventually(async () => (await readyz(server)).ready, 15_000);
    const pids = (await readyz(server)).workers.map((w) => w.pid!);
    const client = connection(server);
    process.kill(-server.child.pid!, 'SIGTERM');
    await eventually(() => server.stderr().includes('draining: every worker says NOT_SERVING'));
    // Still draining (600 s): the workers did not die of the TERM they got, and still answer.
    expect((await client.check(checkRequestJson({ source: CHECKOUT }))).allowed).toBe(true);
    expect(await client.health()).toBe('NOT_SERVING');
    expect(pids.every(alive)).toBe(true);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    client.close();
    expect(server.stderr()).not.toContain('worker exited unexpectedly');
    expect(server.stderr().split('\n').filter((line) => line.includes('"stopped after in-flight Checks finished"'))).toHaveLength(2);
  });

  it('workers exit when their primary dies', async () => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, { 'policy.rego': POLICY('a') }, path.join(dir, 'bundle.tar.gz'), { revision: 'r1' });
    const server = await serve(bundle, ['--decision-log', 'off']);
    const pids = (await readyz(server)).workers.map((w) => w.pid!);
    expect(pids.every(alive)).toBe(true);
    server.child.kill('SIGKILL');
    await server.exited;
    await eventually(() => !pids.some(alive), 10_000);
  });

  it('fails start-up with the workers\' error when every worker fails to start', async () => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, { 'policy.rego': POLICY('a') }, path.join(dir, 'bundle.tar.gz'), { revision: 'r1' });
    const { spawnSync } = await import('node:child_process');
    const missing = path.join(dir, 'missing.pem');
    const result = spawnSync(process.execPath, [MAIN, 'serve', '--bundle', bundle, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0', '--workers', '2', '--tls-cert-file', missing, '--tls-key-file', missing], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(missing);
    expect(result.stderr).not.toContain('gatehouse is serving');
  });
});
