/**
 * What tracing: otlp says in the operational log when the OpenTelemetry setup or the collector is
 * wrong: a setting the SDK ignored (OTEL_TRACES_SAMPLER it does not know) is logged as such at
 * start-up without hiding the first export failure after it, and a collector that takes no spans
 * at shutdown makes stop() end at its budget and say the last spans are lost.
 */
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestApp } from '../support/app.js';
import { buildBundle, tempDir, CHECKOUT_ONLY_POLICY } from '../support/policy.js';
import { CHECKOUT, checkRequestJson } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
const SAMPLED = { traceparent: `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01` };
const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe.skipIf(tool.skip)('tracing: otlp diagnostics', () => {
  let bundle: string;
  beforeAll(() => {
    bundle = buildBundle(tool.opa, { 'policy.rego': CHECKOUT_ONLY_POLICY }, path.join(tempDir(), 'bundle.tar.gz'), { revision: 'r1' });
  });

  it('an unknown OTEL_TRACES_SAMPLER is logged as an ignored setting, and the first export failure is still reported, without the password in the endpoint', async () => {
    // A password in the collector's URL is never logged.
    Object.assign(process.env, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:collector-pa55@127.0.0.1:9', OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_EXPORTER_OTLP_TIMEOUT: '500', OTEL_TRACES_SAMPLER: 'always_of' });
    const app = await startTestApp({ bundle, tracing: 'otlp' });
    try {
      const ignored = app.logs.find((line) => String(line.msg).startsWith('tracing: the OpenTelemetry SDK ignored a setting'));
      expect(ignored?.detail).toContain('always_of');
      for (let i = 0; i < 5; i++) expect((await app.client.check(checkRequestJson({ source: CHECKOUT, headers: SAMPLED }))).allowed).toBe(true);
      // The export failure (connection refused), not the sampler warning again.
      await eventually(() => app.logs.some((line) => String(line.msg).startsWith('tracing: the OpenTelemetry SDK reports a problem') && !String(line.detail).includes('OTEL_TRACES_SAMPLER')), 20_000);
      expect(JSON.stringify(app.logs)).toContain('127.0.0.1:9');
      expect(JSON.stringify(app.logs)).not.toContain('collector-pa55');
    } finally {
      await app.stop();
    }
  }, 60_000);

  it('OTEL_EXPORTER_OTLP_PROTOCOL=grpc (not supported) is named at start-up with the fix', async () => {
    Object.assign(process.env, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    const app = await startTestApp({ bundle, tracing: 'otlp' });
    try {
      const warning = app.logs.find((line) => String(line.msg).startsWith('tracing: OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported'));
      expect(warning?.msg).toMatch(/Fix: unset it/);
      expect((await app.client.check(checkRequestJson({ source: CHECKOUT, headers: SAMPLED }))).allowed).toBe(true);
    } finally {
      await app.stop();
    }
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/protobuf';
    const quiet = await startTestApp({ bundle, tracing: 'otlp' });
    await quiet.stop();
    expect(quiet.logs.filter((line) => String(line.msg).includes('is not supported'))).toEqual([]);
  }, 60_000);

  it('stop() with a collector that never answers ends at its budget and says the last spans are lost', async () => {
    const sockets: net.Socket[] = [];
    const collector = net.createServer((socket) => sockets.push(socket.on('error', () => undefined)));
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const port = (collector.address() as net.AddressInfo).port;
    // A long schedule delay: the spans are still queued when stop() asks for them.
    Object.assign(process.env, { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_BSP_SCHEDULE_DELAY: '60000', OTEL_EXPORTER_OTLP_TIMEOUT: '30000' });
    const app = await startTestApp({ bundle, tracing: 'otlp', 'shutdown-timeout-ms': '300' });
    try {
      for (let i = 0; i < 5; i++) expect((await app.client.check(checkRequestJson({ source: CHECKOUT, headers: SAMPLED }))).allowed).toBe(true);
    } finally {
      await app.stop();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => collector.close(resolve));
    }
    expect(sockets.length).toBeGreaterThan(0); // the export was attempted
    expect(app.logs.find((line) => String(line.msg).startsWith('tracing: the collector did not take the last spans'))).toMatchObject({ timeout_ms: 300 });
  }, 60_000);
});
