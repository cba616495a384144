/**
 * tracing: otlp against a real Jaeger (test/support/jaeger.ts): gatehouse's spans, exported by the
 * OpenTelemetry SDK over OTLP/HTTP, read back from Jaeger's query API. The server span continues
 * the caller's trace (W3C traceparent in the CheckRequest's headers, B3 headers, or the gRPC
 * metadata, which wins); input, cache and evaluation spans are its children; attributes carry the
 * decision. An unsampled parent is followed (nothing exported). With workers: 2, each worker
 * exports its own spans.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Metadata, credentials, makeGenericClientConstructor, type Client } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTHORIZATION_SERVICE } from '../../src/grpc/check-service.js';
import { eventually, startTestApp, type TestApp } from '../support/app.js';
import { requireBuiltCli, startServe } from '../support/cli.js';
import { Jaeger, jaegerOrSkip, tag, type JaegerSpan, type JaegerTrace } from '../support/jaeger.js';
import { buildBundle, tempDir, CHECKOUT_ONLY_POLICY } from '../support/policy.js';
import { CHECKOUT, PAYMENTS, checkRequestJson, encodeRequest } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
requireBuiltCli();
const jaegerTool = jaegerOrSkip();
const CHECK = 'envoy.service.auth.v3.Authorization/Check';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const AuthorizationClient = makeGenericClientConstructor(AUTHORIZATION_SERVICE, 'Authorization');

/** A Check with gRPC metadata (TestClient sends none). */
function checkWithMetadata(client: Client, request: Record<string, unknown>, metadata: Record<string, string>): Promise<void> {
  const md = new Metadata();
  for (const [key, value] of Object.entries(metadata)) md.set(key, value);
  return new Promise((resolve, reject) => (client as unknown as Record<string, Function>).Check!(encodeRequest(request), md, (error: Error | null) => (error ? reject(error) : resolve())));
}

async function traceOf(jaeger: Jaeger, traceId: string, spans: number): Promise<JaegerTrace> {
  let found: JaegerTrace | undefined;
  await eventually(async () => {
    found = await jaeger.trace(traceId);
    return (found?.spans.length ?? 0) >= spans;
  }, 20_000);
  return found!;
}

const byName = (trace: JaegerTrace, name: string): JaegerSpan[] => trace.spans.filter((span) => span.operationName === name);
const parentOf = (span: JaegerSpan) => span.references.find((ref) => ref.refType === 'CHILD_OF')?.spanID;

describe.skipIf(tool.skip || jaegerTool.skip)('tracing: otlp with a real Jaeger', () => {
  let jaeger: Jaeger;
  let bundle: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    jaeger = await Jaeger.start(jaegerTool.jaeger);
    bundle = buildBundle(tool.opa, { 'policy.rego': CHECKOUT_ONLY_POLICY }, path.join(tempDir(), 'bundle.tar.gz'), { revision: 'r7' });
    // The standard variables, read by the SDK itself (and inherited by `gatehouse serve` children).
    Object.assign(process.env, { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint, OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: 'gatehouse-test' });
  }, 60_000);

  afterAll(async () => {
    process.env = saved;
    await jaeger?.stop();
  });

  describe('one process', () => {
    let app: TestApp;
    let raw: Client;
    beforeAll(async () => {
      app = await startTestApp({ bundle, tracing: 'otlp' });
      raw = new AuthorizationClient(`127.0.0.1:${app.app.grpcPort}`, credentials.createInsecure());
    });
    afterAll(async () => {
      raw?.close();
      await app?.stop();
    });

    it('continues the traceparent of the checked request; input, cache and evaluation are children of the server span', async () => {
      const traceId = hex(16);
      const parent = hex(8);
      const reply = await app.client.check(checkRequestJson({ source: CHECKOUT, headers: { traceparent: `00-${traceId}-${parent}-01`, tracestate: 'vendor=x' } }));
      expect(reply.allowed).toBe(true);
      const trace = await traceOf(jaeger, traceId, 4);
      const [server] = byName(trace, CHECK);
      expect(server).toBeDefined();
      expect(server!.traceID).toBe(traceId);
      expect(parentOf(server!)).toBe(parent);
      expect(tag(server!, 'span.kind')).toBe('server');
      expect(tag(server!, 'gatehouse.decision')).toBe('allow');
      expect(tag(server!, 'gatehouse.reason_code')).toBe('policy_allowed');
      expect(tag(server!, 'http.response.status_code')).toBe(200);
      expect(tag(server!, 'gatehouse.policy.revision')).toBe('r7');
      expect(tag(server!, 'gatehouse.cache')).toBe('miss');
      expect(tag(server!, 'gatehouse.source.spiffe_id')).toBe(CHECKOUT);
      expect(tag(server!, 'gatehouse.decision_id')).toBe(reply.metadata.decision_id);
      expect(tag(server!, 'rpc.method')).toBe('Check');
      for (const name of ['gatehouse.input', 'gatehouse.cache', 'gatehouse.evaluate']) {
        const children = byName(trace, name);
        expect(children, name).toHaveLength(1);
        expect(parentOf(children[0]!), name).toBe(server!.spanID);
        // Within the server span (Jaeger truncates start and duration to µs separately: 1 µs of slack).
        expect(children[0]!.startTime, name).toBeGreaterThanOrEqual(server!.startTime);
        expect(children[0]!.startTime + children[0]!.duration, name).toBeLessThanOrEqual(server!.startTime + server!.duration + 1);
      }
      expect(trace.processes[server!.processID]!.serviceName).toBe('gatehouse-test');
    });

    it('a cache hit has a cache span and no evaluation; a deny carries its status and reason', async () => {
      const hitTrace = hex(16);
      await app.client.check(checkRequestJson({ source: CHECKOUT, path: '/hit', headers: { 'x-warm': '1' } }));
      await app.client.check(checkRequestJson({ source: CHECKOUT, path: '/hit', headers: { traceparent: `00-${hitTrace}-${hex(8)}-01` } }));
      const hit = await traceOf(jaeger, hitTrace, 3);
      expect(tag(byName(hit, CHECK)[0]!, 'gatehouse.cache')).toBe('hit');
      expect(tag(byName(hit, 'gatehouse.cache')[0]!, 'gatehouse.cache')).toBe('hit');
      expect(byName(hit, 'gatehouse.evaluate')).toHaveLength(0);

      const denyTrace = hex(16);
      const reply = await app.client.check(checkRequestJson({ source: PAYMENTS, headers: { traceparent: `00-${denyTrace}-${hex(8)}-01` } }));
      expect(reply.allowed).toBe(false);
      const deny = await traceOf(jaeger, denyTrace, 4);
      const server = byName(deny, CHECK)[0]!;
      expect(tag(server, 'gatehouse.decision')).toBe('deny');
      expect(tag(server, 'gatehouse.reason_code')).toBe('policy_denied');
      expect(tag(server, 'http.response.status_code')).toBe(403);
      expect(tag(server, 'gatehouse.source.spiffe_id')).toBe(PAYMENTS);
    });

    it('continues B3 headers, and prefers the gRPC metadata (Envoy\'s own span) over the request headers', async () => {
      const b3Trace = hex(16);
      const b3Parent = hex(8);
      await app.client.check(checkRequestJson({ source: CHECKOUT, path: '/b3', headers: { 'x-b3-traceid': b3Trace, 'x-b3-spanid': b3Parent, 'x-b3-sampled': '1' } }));
      const b3 = await traceOf(jaeger, b3Trace, 3); // a cache hit (the policy reads only the principal): no evaluation span
      expect(parentOf(byName(b3, CHECK)[0]!)).toBe(b3Parent);

      const envoyTrace = hex(16);
      const envoySpan = hex(8);
      const appTrace = hex(16);
      await checkWithMetadata(raw, checkRequestJson({ source: CHECKOUT, path: '/meta', headers: { traceparent: `00-${appTrace}-${hex(8)}-01` } }), { traceparent: `00-${envoyTrace}-${envoySpan}-01` });
      const fromMetadata = await traceOf(jaeger, envoyTrace, 3);
      expect(parentOf(byName(fromMetadata, CHECK)[0]!)).toBe(envoySpan);
      expect(await jaeger.trace(appTrace)).toBeUndefined();
    });

    it('follows an unsampled parent: nothing is exported for it', async () => {
      const unsampled = hex(16);
      const sampled = hex(16);
      await app.client.check(checkRequestJson({ source: CHECKOUT, path: '/unsampled', headers: { traceparent: `00-${unsampled}-${hex(8)}-00` } }));
      await app.client.check(checkRequestJson({ source: CHECKOUT, path: '/sampled', headers: { traceparent: `00-${sampled}-${hex(8)}-01` } }));
      await traceOf(jaeger, sampled, 3); // exported after the unsampled one would have been
      expect(await jaeger.trace(unsampled)).toBeUndefined();
    });
  });

  it('workers: 2: every worker exports its own spans', async () => {
    process.env.OTEL_SERVICE_NAME = 'gatehouse-workers';
    const server = await startServe(bundle, ['--workers', '2', '--tracing', 'otlp', '--decision-log', 'off']);
    try {
      await eventually(async () => ((await (await fetch(`http://127.0.0.1:${server.adminPort}/readyz`)).json()) as { ready: boolean }).ready, 15_000);
      // Connections are handed to the worker with the fewest: four connections reach both.
      const clients = Array.from({ length: 4 }, () => new AuthorizationClient(`127.0.0.1:${server.grpcPort}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
      const traceIds: string[] = [];
      for (let round = 0; round < 3; round++) {
        for (const client of clients) {
          const traceId = hex(16);
          traceIds.push(traceId);
          await checkWithMetadata(client, checkRequestJson({ source: CHECKOUT, path: `/w/${round}` }), { traceparent: `00-${traceId}-${hex(8)}-01` });
        }
      }
      for (const client of clients) client.close();
      const workers = new Set<unknown>();
      for (const traceId of traceIds) {
        const trace = await traceOf(jaeger, traceId, 2);
        const span = byName(trace, CHECK)[0]!;
        const process = trace.processes[span.processID]!;
        expect(process.serviceName).toBe('gatehouse-workers');
        workers.add(tag(process, 'gatehouse.worker'));
      }
      expect(workers.size).toBe(2);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  }, 60_000);
});
