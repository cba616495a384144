/**
 * Remote decision logs (decision_log_service_url): a real gatehouse app ships its lines to a local
 * decision-log service (test/support/log-receiver.ts, gzip JSON arrays POSTed to <url>/logs) that
 * is stalled, failing with 500s, down, or strict about mTLS. Checks are all answered meanwhile
 * (none waits for the service), nothing is lost while the buffer has room, and past it the drops
 * are counted in gatehouse_decision_log_lines_total.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { openConfiguredDecisionLogSink } from '../../src/observability/log-sink.js';
import { RemoteLogSink } from '../../src/observability/remote-log-sink.js';
import { eventually } from '../support/app.js';
import { TestClient } from '../support/grpc-client.js';
import { LogReceiver } from '../support/log-receiver.js';
import { createCa, issueLeaf } from '../support/pki.js';
import { buildBundle, tempDir, CHECKOUT_ONLY_POLICY } from '../support/policy.js';
import { CHECKOUT, checkRequestJson } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startWithService(flags: Record<string, string>): Promise<{ app: RunningApp; client: TestClient; logs: Record<string, any>[]; linesTotal(result: string): Promise<number> }> {
  const dir = tempDir();
  const bundle = buildBundle(tool.opa, { 'policy.rego': CHECKOUT_ONLY_POLICY }, path.join(dir, 'bundle.tar.gz'), { revision: 'r1' });
  const config = loadConfig({ flags: { addr: '127.0.0.1:0', 'admin-addr': '127.0.0.1:0', bundle, 'decision-log': 'off', ...flags }, env: {} });
  const logs: Record<string, any>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  const app = await startApp(config, { logger: pino({ level: 'debug' }, stream) });
  const client = new TestClient(`127.0.0.1:${app.grpcPort}`);
  cleanups.push(async () => {
    client.close();
    await app.stop();
  });
  const linesTotal = async (result: string) => {
    const text = await (await fetch(`http://127.0.0.1:${app.adminPort}/metrics`)).text();
    const match = new RegExp(`^gatehouse_decision_log_lines_total\\{result="${result}"\\} (\\d+)`, 'm').exec(text);
    return match ? Number(match[1]) : 0;
  };
  return { app, client, logs, linesTotal };
}

async function receiver(tls?: ConstructorParameters<typeof LogReceiver>[0]): Promise<LogReceiver> {
  const r = await new LogReceiver(tls).listen();
  cleanups.push(() => r.close());
  return r;
}

describe.skipIf(tool.skip)('decision_log_service_url: a real app against a failing decision-log service', () => {
  it('delivers every line exactly once through a stall and 500s, masked, gzip, with the bearer token', async () => {
    const service = await receiver();
    service.mode = 'hang';
    const { client, linesTotal } = await startWithService({ 'decision-log-service-url': `http://127.0.0.1:${service.port}/v1/`, 'decision-log-service-bearer-token': 't0ken' });
    // Every Check is answered while the service holds the first upload open and never answers.
    const replies = await Promise.all(
      Array.from({ length: 30 }, (_, i) => client.check(checkRequestJson({ source: CHECKOUT, headers: { authorization: 'Bearer secret-user-token', 'x-n': String(i) } }))),
    );
    expect(replies.map((reply) => reply.allowed)).toEqual(Array(30).fill(true));
    await eventually(() => service.refused >= 1);
    expect(service.events).toEqual([]);
    // The stall ends in a 500, then the service keeps failing for a while: lines stay buffered.
    service.mode = 'error500';
    service.releaseHanging();
    await eventually(() => service.refused >= 3, 15_000);
    service.mode = 'ok';
    await eventually(() => service.events.length >= 30, 20_000);

    const ids = service.events.map((event) => event.decision_id as string);
    expect(new Set(ids).size).toBe(30);
    expect(ids.sort()).toEqual(replies.map((reply) => reply.metadata.decision_id as string).sort());
    for (const upload of service.uploads) {
      expect(upload.path).toBe('/v1/logs');
      expect(upload.headers['content-encoding']).toBe('gzip');
      expect(upload.headers['content-type']).toBe('application/json');
      expect(upload.headers.authorization).toBe('Bearer t0ken');
    }
    const event = service.events[0]!;
    expect(event.input.attributes.request.http.headers.authorization).toBe('[masked]');
    expect(JSON.stringify(service.events)).not.toContain('secret-user-token');
    expect(event.bundles.main.revision).toBe('r1');
    expect(await linesTotal('written')).toBe(30);
    expect(await linesTotal('dropped')).toBe(0);
  }, 60_000);

  it('while the service is down, keeps what fits in decision_log_buffer_bytes, counts the rest as dropped, and ships what it kept', async () => {
    // Down: connections refused. A port outside the ephemeral range, so that nothing the test
    // binds to port 0 (gatehouse's listeners) can take it before the service comes back.
    const service = await receiver();
    await service.close();
    const port = await freePortBelowEphemeral(service);
    const { client, linesTotal, logs } = await startWithService({
      'decision-log-service-url': `http://127.0.0.1:${port}`,
      'decision-log-buffer-bytes': '4096',
    });
    const answered: string[] = [];
    for (let i = 0; i < 30; i++) {
      const reply = await client.check(checkRequestJson({ source: CHECKOUT, headers: { 'x-pad': 'p'.repeat(300), 'x-n': String(i) } }));
      answered.push(reply.metadata.decision_id as string);
    }
    expect(answered).toHaveLength(30);
    await eventually(async () => (await linesTotal('written')) + (await linesTotal('dropped')) === 30);
    const written = await linesTotal('written');
    const dropped = await linesTotal('dropped');
    expect(written).toBeGreaterThan(0);
    expect(dropped).toBeGreaterThan(0);
    await eventually(() => logs.some((line) => line.msg?.startsWith('decision-log upload failed')));

    await service.listen(port); // back up
    await eventually(() => service.events.length >= written, 30_000);
    const received = service.events.map((event) => event.decision_id as string);
    expect(received).toHaveLength(written);
    expect(received.every((id) => answered.includes(id))).toBe(true);
    // The oldest lines were kept (later ones found the buffer full), in order.
    expect(received).toEqual(answered.slice(0, written));
  }, 60_000);

  it('with a local decision_log too, every line goes to both', async () => {
    const service = await receiver();
    const log = path.join(tempDir(), 'decisions.log');
    const { client } = await startWithService({ 'decision-log': log, 'decision-log-service-url': `http://127.0.0.1:${service.port}` });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await client.check(checkRequestJson({ source: CHECKOUT, headers: { 'x-n': String(i) } }))).metadata.decision_id as string);
    await eventually(() => service.events.length === 5);
    await eventually(() => existsSync(log) && readFileSync(log, 'utf8').split('\n').filter(Boolean).length === 5);
    const local = readFileSync(log, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, any>);
    expect(local.map((event) => event.decision_id)).toEqual(ids);
    expect(service.events.map((event) => event.decision_id)).toEqual(ids);
    expect(service.events).toEqual(local);
  }, 60_000);

  it('authenticates with an mTLS client certificate against a service that requires one', async () => {
    const dir = tempDir();
    const ca = createCa(dir, 'logs-ca', 'logs.test');
    const server = issueLeaf(dir, 'logs-server', ca, 'subjectAltName=IP:127.0.0.1', 'extendedKeyUsage=serverAuth');
    const clientCert = issueLeaf(dir, 'gatehouse-client', ca, 'extendedKeyUsage=clientAuth');
    const service = await receiver({ cert: readFileSync(server.cert), key: readFileSync(server.key), ca: readFileSync(ca.cert), requestCert: true, rejectUnauthorized: true });
    const { client } = await startWithService({
      'decision-log-service-url': `https://127.0.0.1:${service.port}`,
      'decision-log-service-tls-cert-file': clientCert.cert,
      'decision-log-service-tls-key-file': clientCert.key,
      'decision-log-service-tls-ca-file': ca.cert,
    });
    const reply = await client.check(checkRequestJson({ source: CHECKOUT }));
    await eventually(() => service.events.length === 1);
    expect(service.events[0]!.decision_id).toBe(reply.metadata.decision_id);
    expect(service.uploads[0]!.clientCn).toBe('gatehouse-client');
  }, 60_000);
});

async function freePortBelowEphemeral(probe: LogReceiver): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    try {
      await probe.listen(port);
      await probe.close();
      return port;
    } catch {
      // taken: try another
    }
  }
  throw new Error('no free port in 20000-29999');
}

describe('RemoteLogSink', () => {
  it('batches by size, keeps order, and flush uploads everything now', async () => {
    const service = await receiver();
    const sink = new RemoteLogSink({ url: `http://127.0.0.1:${service.port}`, maxBufferBytes: 1 << 20, batchBytes: 1000, batchMs: 60_000 });
    cleanups.push(() => sink.destroy());
    const lines = Array.from({ length: 10 }, (_, i) => JSON.stringify({ decision_id: `d${i}`, pad: 'x'.repeat(280) }));
    // One write may carry several lines (the cluster primary relays batches).
    sink.write(`${lines[0]}\n${lines[1]}\n`);
    for (const line of lines.slice(2)) sink.write(`${line}\n`);
    await new Promise<void>((resolve, reject) => sink.flush((error) => (error ? reject(error) : resolve())));
    expect(service.events.map((event) => event.decision_id)).toEqual(lines.map((_, i) => `d${i}`));
    expect(service.uploads.length).toBeGreaterThanOrEqual(4);
    for (const upload of service.uploads) expect(JSON.stringify(upload.events).length).toBeLessThanOrEqual(1000);
    expect(sink.pending).toBe(0);
  });

  it('reports a write that does not fit as a drop, synchronously', async () => {
    const sink = new RemoteLogSink({ url: 'http://127.0.0.1:9', maxBufferBytes: 100, batchMs: 60_000 });
    cleanups.push(() => sink.destroy());
    let drops = 0;
    sink.on('drop', () => drops++);
    sink.write(`${'a'.repeat(60)}\n`);
    expect(drops).toBe(0);
    sink.write(`${'b'.repeat(60)}\n`);
    expect(drops).toBe(1);
    expect(sink.pending).toBe(1);
  });

  it('start-up fails naming the keys when the service settings do not fit together', () => {
    const base = { decision_log: 'off', decision_log_buffer_bytes: 4096, decision_log_service_bearer_token: undefined, decision_log_service_tls_ca_file: undefined };
    expect(() =>
      openConfiguredDecisionLogSink({ ...base, decision_log_service_url: 'https://127.0.0.1:1', decision_log_service_tls_cert_file: '/x.crt', decision_log_service_tls_key_file: undefined }),
    ).toThrow(/decision_log_service_tls_cert_file and decision_log_service_tls_key_file must be set together/);
    expect(() =>
      openConfiguredDecisionLogSink({ ...base, decision_log_service_url: 'http://127.0.0.1:1', decision_log_service_tls_cert_file: '/x.crt', decision_log_service_tls_key_file: '/x.key' }),
    ).toThrow(/need an https:\/\/ decision_log_service_url/);
    expect(() =>
      openConfiguredDecisionLogSink({ ...base, decision_log_service_url: 'https://127.0.0.1:1', decision_log_service_tls_cert_file: '/missing.crt', decision_log_service_tls_key_file: '/missing.key' }),
    ).toThrow(/cannot be read/);
    for (const url of ['ftp://x', 'not a url', 'https://x/?q=1']) {
      expect(() => openConfiguredDecisionLogSink({ ...base, decision_log_service_url: url, decision_log_service_tls_cert_file: undefined, decision_log_service_tls_key_file: undefined })).toThrow(
        /decision_log_service_url must be an http:\/\/ or https:\/\/ URL/,
      );
    }
  });
});
