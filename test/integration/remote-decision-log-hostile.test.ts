/**
 * Remote decision logs against a decision-log service that misbehaves in ways the main test does
 * not cover: credentials in decision_log_service_url never reach the operational log or an error
 * message, and shutdown with a service that never answers ends (bounded by its 2 s flush budget)
 * and says what was lost.
 */
import { copyFileSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { loggingSinkHooks, openConfiguredDecisionLogSink } from '../../src/observability/log-sink.js';
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

async function receiver(tls?: ConstructorParameters<typeof LogReceiver>[0]): Promise<LogReceiver> {
  const r = await new LogReceiver(tls).listen();
  cleanups.push(() => r.close());
  return r;
}

function memoryLogger(): { logger: pino.Logger; logs: Record<string, any>[] } {
  const logs: Record<string, any>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), logs };
}

describe('decision_log_service_url with a user name and password in it', () => {
  const SECRET = 'pa55-w0rd-in-url';

  it('never shows the password: failed uploads, their operational log line, configuration errors', async () => {
    const service = await receiver();
    service.mode = 'error500';
    const errors: Error[] = [];
    const sink = new RemoteLogSink({ url: `http://shipper:${SECRET}@127.0.0.1:${service.port}/v1`, maxBufferBytes: 1 << 20, batchMs: 10, minRetryMs: 20, maxRetryMs: 40, onUploadError: (error) => errors.push(error) });
    cleanups.push(() => sink.destroy());
    sink.write('{"decision_id":"d1"}\n');
    await eventually(() => errors.length >= 2);
    for (const error of errors) {
      expect(error.message).toMatch(/answered HTTP 500/);
      expect(error.message).not.toContain(SECRET);
    }
    // node:http sends the URL's credentials as Basic authentication: the service did get them.
    service.mode = 'ok';
    await eventually(() => service.uploads.length === 1);
    expect(Buffer.from(String(service.uploads[0]!.headers.authorization).replace(/^Basic /, ''), 'base64').toString()).toBe(`shipper:${SECRET}`);

    // The operational log line of the configured sink.
    const { logger, logs } = memoryLogger();
    service.mode = 'error500';
    const url = `http://shipper:${SECRET}@127.0.0.1:${service.port}/v1`;
    const base = { decision_log: 'off', decision_log_buffer_bytes: 4096, decision_log_service_bearer_token: undefined, decision_log_service_tls_ca_file: undefined };
    const configured = openConfiguredDecisionLogSink({ ...base, decision_log_service_url: url, decision_log_service_tls_cert_file: undefined, decision_log_service_tls_key_file: undefined }, loggingSinkHooks(logger, url))!;
    cleanups.push(() => (configured as RemoteLogSink).destroy());
    configured.write('{"decision_id":"d2"}\n');
    await eventually(() => logs.some((line) => line.msg?.startsWith('decision-log upload failed')));
    expect(JSON.stringify(logs)).toContain('answered HTTP 500');
    expect(JSON.stringify(logs)).not.toContain(SECRET);

    // A refused URL is named without its password.
    for (const url of [`https://shipper:${SECRET}@x/?q=1`, `http://shipper:${SECRET}@x/`]) {
      let message = '';
      try {
        openConfiguredDecisionLogSink({ ...base, decision_log_service_url: url, decision_log_service_tls_cert_file: '/x.crt', decision_log_service_tls_key_file: '/x.key' });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/decision_log_service_url/);
      expect(message).not.toContain(SECRET);
    }
  });
});

describe.skipIf(tool.skip)('shutdown with a decision-log service that never answers', () => {
  it('stop() ends, and the operational log says the lines not accepted are lost', async () => {
    const service = await receiver();
    service.mode = 'hang';
    const bundle = buildBundle(tool.opa, { 'policy.rego': CHECKOUT_ONLY_POLICY }, path.join(tempDir(), 'bundle.tar.gz'), { revision: 'r1' });
    const config = loadConfig({
      flags: { addr: '127.0.0.1:0', 'admin-addr': '127.0.0.1:0', bundle, 'decision-log': 'off', 'decision-log-service-url': `http://127.0.0.1:${service.port}`, 'shutdown-drain-ms': '0' },
      env: {},
    });
    const { logger, logs } = memoryLogger();
    const app = await startApp(config, { logger });
    const client = new TestClient(`127.0.0.1:${app.grpcPort}`);
    for (let i = 0; i < 20; i++) expect((await client.check(checkRequestJson({ source: CHECKOUT, path: `/s${i}` }))).allowed).toBe(true);
    client.close();
    await eventually(() => service.refused >= 1); // an upload is in flight, unanswered
    await app.stop();
    expect(logs.map((line) => line.msg)).toContain('the decision-log sink did not drain within 2 s; unwritten lines are lost');
    expect(service.uploads).toHaveLength(0);
  }, 30_000);
});

describe('decision_log_service_tls_cert_file rotated on disk', () => {
  it('the next upload presents the new client certificate; a half-written rotation (new certificate, old key) is retried, not fatal', async () => {
    const dir = tempDir();
    const ca = createCa(dir, 'logs-ca', 'logs.test');
    const server = issueLeaf(dir, 'logs-server', ca, 'subjectAltName=IP:127.0.0.1', 'extendedKeyUsage=serverAuth');
    const first = issueLeaf(dir, 'client-one', ca, 'extendedKeyUsage=clientAuth');
    const second = issueLeaf(dir, 'client-two', ca, 'extendedKeyUsage=clientAuth');
    const cert = path.join(dir, 'tls.crt');
    const key = path.join(dir, 'tls.key');
    copyFileSync(first.cert, cert);
    copyFileSync(first.key, key);
    const service = await receiver({ cert: readFileSync(server.cert), key: readFileSync(server.key), ca: readFileSync(ca.cert), requestCert: true, rejectUnauthorized: true });
    const errors: Error[] = [];
    const sink = new RemoteLogSink({ url: `https://127.0.0.1:${service.port}`, maxBufferBytes: 1 << 20, batchMs: 10, minRetryMs: 20, maxRetryMs: 40, tlsCertFile: cert, tlsKeyFile: key, tlsCaFile: ca.cert, onUploadError: (error) => errors.push(error) });
    cleanups.push(() => sink.destroy());
    sink.write('{"decision_id":"before"}\n');
    await eventually(() => service.uploads.length === 1);
    expect(service.uploads[0]!.clientCn).toBe('client-one');

    copyFileSync(second.cert, cert); // the key follows a moment later
    sink.write('{"decision_id":"during"}\n');
    await eventually(() => errors.length >= 1 || service.uploads.length === 2);
    copyFileSync(second.key, key);
    sink.write('{"decision_id":"after"}\n');
    await eventually(() => service.events.length === 3);
    expect(service.events.map((event) => event.decision_id)).toEqual(['before', 'during', 'after']);
    expect(service.uploads.at(-1)!.clientCn).toBe('client-two');
  });
});

describe('decision_log_service_bearer_token', () => {
  it('is not in the upload error when a failing service echoes the request headers in its body', async () => {
    const TOKEN = 'tok-3c1f-echoed-back';
    const echo = http.createServer((request, response) => {
      request.resume();
      request.on('end', () => response.writeHead(401).end(`unauthorized: ${request.headers.authorization}`));
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => echo.close(() => resolve())));
    const errors: Error[] = [];
    const sink = new RemoteLogSink({ url: `http://127.0.0.1:${(echo.address() as import('node:net').AddressInfo).port}`, bearerToken: TOKEN, maxBufferBytes: 1 << 20, batchMs: 10, minRetryMs: 20, maxRetryMs: 40, onUploadError: (error) => errors.push(error) });
    cleanups.push(() => sink.destroy());
    sink.write('{"decision_id":"d1"}\n');
    await eventually(() => errors.length >= 1);
    expect(errors[0]!.message).toMatch(/answered HTTP 401: unauthorized: Bearer \*\*\*/);
    expect(errors[0]!.message).not.toContain(TOKEN);
  });
});

describe('a failing decision-log service under a high line rate', () => {
  it('waits out the backoff: a full batch of new lines does not retry at once', async () => {
    const service = await receiver();
    service.mode = 'error500';
    const errors: Error[] = [];
    // A backoff of 30-60 s after the first failure, small batches.
    const sink = new RemoteLogSink({ url: `http://127.0.0.1:${service.port}`, maxBufferBytes: 1 << 20, batchBytes: 1000, batchMs: 10, minRetryMs: 60_000, maxRetryMs: 60_000, onUploadError: (error) => errors.push(error) });
    cleanups.push(() => sink.destroy());
    const line = `${JSON.stringify({ decision_id: 'x', pad: 'p'.repeat(200) })}\n`;
    sink.write(line);
    await eventually(() => errors.length === 1);
    // Many batches' worth of lines while the backoff runs (each write used to start an upload at once).
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 20; i++) sink.write(line);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    expect(service.refused).toBe(1);
    expect(errors).toHaveLength(1);
    expect(sink.pending).toBe(201);
    // flush (shutdown) still tries at once, and the lines go once the service is back.
    service.mode = 'ok';
    await new Promise<void>((resolve) => sink.flush(() => resolve()));
    expect(service.events).toHaveLength(201);
  });
});
