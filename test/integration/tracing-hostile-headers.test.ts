/**
 * tracing: otlp with malformed or conflicting trace headers (W3C traceparent/tracestate, B3 single
 * and multi-header), in the checked request's headers and in the gRPC metadata: every Check is
 * answered as its policy says, nothing is reported as a failure, and a header that is not a valid
 * parent starts a new trace (its ids never appear in Jaeger); a valid one is continued, W3C before B3.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Metadata, credentials, makeGenericClientConstructor, type Client } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTHORIZATION_SERVICE } from '../../src/grpc/check-service.js';
import { authzProtos } from '../../src/grpc/protos.js';
import { eventually, startTestApp, type TestApp } from '../support/app.js';
import { Jaeger, jaegerOrSkip, tag, type JaegerTrace } from '../support/jaeger.js';
import { buildBundle, tempDir, CHECKOUT_ONLY_POLICY } from '../support/policy.js';
import { CHECKOUT, checkRequestJson, encodeRequest } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
const jaegerTool = jaegerOrSkip();
const CHECK = 'envoy.service.auth.v3.Authorization/Check';
const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const AuthorizationClient = makeGenericClientConstructor(AUTHORIZATION_SERVICE, 'Authorization');

interface Reply {
  allowed: boolean;
}

function check(client: Client, headers: Record<string, string>, metadata: Record<string, string | string[]>): Promise<Reply> {
  const md = new Metadata();
  for (const [key, value] of Object.entries(metadata)) for (const v of [value].flat()) md.add(key, v);
  return new Promise((resolve, reject) =>
    (client as unknown as Record<string, Function>).Check!(encodeRequest(checkRequestJson({ source: CHECKOUT, path: `/${hex(4)}`, headers })), md, (error: Error | null, response: Buffer) => {
      if (error) return reject(error);
      resolve({ allowed: ((authzProtos().decodeCheckResponse(response) as { status?: { code?: number } }).status?.code ?? 0) === 0 });
    }),
  );
}

/** Carriers that are not a valid parent: [name, headers]. `ids` are hex strings that must not become a trace. */
function malformed(): { name: string; headers: Record<string, string>; ids: string[] }[] {
  const t = () => hex(16);
  const s = () => hex(8);
  const cases: { name: string; headers: Record<string, string>; ids: string[] }[] = [];
  const add = (name: string, build: (trace: string, span: string) => Record<string, string>) => {
    const trace = t();
    cases.push({ name, headers: build(trace, s()), ids: [trace] });
  };
  add('traceparent upper-case hex', (tr, sp) => ({ traceparent: `00-${tr.toUpperCase()}-${sp.toUpperCase()}-01` }));
  add('traceparent version ff', (tr, sp) => ({ traceparent: `ff-${tr}-${sp}-01` }));
  add('traceparent version 00 with a fifth field', (tr, sp) => ({ traceparent: `00-${tr}-${sp}-01-extra` }));
  add('traceparent short trace id', (tr, sp) => ({ traceparent: `00-${tr.slice(1)}-${sp}-01` }));
  add('traceparent long span id', (tr, sp) => ({ traceparent: `00-${tr}-${sp}0-01` }));
  add('traceparent all-zero span id', (tr) => ({ traceparent: `00-${tr}-0000000000000000-01` }));
  add('traceparent flags not hex', (tr, sp) => ({ traceparent: `00-${tr}-${sp}-zz` }));
  add('traceparent empty fields', () => ({ traceparent: '---' }));
  // Under max_header_value_bytes (16 KiB): a longer header is a hygiene deny before tracing sees it.
  add('traceparent huge', (tr, sp) => ({ traceparent: `00-${tr}-${sp}-01${'-x'.repeat(7_000)}` }));
  add('b3 single: sampling only', (tr) => ({ b3: '1', 'x-marker': tr }));
  // The SDK's single-header pattern is not anchored: it took the last 16 of these 29 hex as the trace id.
  cases.push((() => {
    const tr = t();
    return { name: 'b3 single: 29-hex trace id', headers: { b3: `${tr.slice(3)}-${s()}-1` }, ids: [tr, tr.slice(-16)] };
  })());
  add('b3 single: all-zero span id', (tr) => ({ b3: `${tr}-0000000000000000-1` }));
  add('b3 single: garbage', (tr) => ({ b3: `${tr}-zz-1-${'q'.repeat(5000)}` }));
  add('b3 multi: span id missing', (tr) => ({ 'x-b3-traceid': tr, 'x-b3-sampled': '1' }));
  add('b3 multi: 17-hex span id', (tr, sp) => ({ 'x-b3-traceid': tr, 'x-b3-spanid': `${sp}0`, 'x-b3-sampled': '1' }));
  // The SDK's multi-header form padded any trace id shorter than 32 hex with zeros.
  cases.push((() => {
    const tr = t();
    return { name: 'b3 multi: 31-hex trace id', headers: { 'x-b3-traceid': tr.slice(1), 'x-b3-spanid': s(), 'x-b3-sampled': '1' }, ids: [tr, tr.slice(1)] };
  })());
  cases.push((() => {
    const tr = t();
    return { name: 'b3 multi: 5-hex trace id', headers: { 'x-b3-traceid': tr.slice(0, 5), 'x-b3-spanid': s(), 'x-b3-sampled': '1' }, ids: [tr.slice(0, 5)] };
  })());
  add('b3 multi: all-zero trace id', (tr) => ({ 'x-b3-traceid': '0'.repeat(32), 'x-b3-spanid': tr.slice(0, 16) }));
  return cases;
}

describe.skipIf(tool.skip || jaegerTool.skip)('tracing: otlp with malformed and conflicting trace headers', () => {
  let jaeger: Jaeger;
  let app: TestApp;
  let raw: Client;
  const saved = { ...process.env };

  beforeAll(async () => {
    jaeger = await Jaeger.start(jaegerTool.jaeger);
    const bundle = buildBundle(tool.opa, { 'policy.rego': CHECKOUT_ONLY_POLICY }, path.join(tempDir(), 'bundle.tar.gz'), { revision: 'h1' });
    Object.assign(process.env, { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint, OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: 'gatehouse-hostile' });
    app = await startTestApp({ bundle, tracing: 'otlp', 'decision-cache': 'off' });
    raw = new AuthorizationClient(`127.0.0.1:${app.app.grpcPort}`, credentials.createInsecure());
  }, 60_000);

  afterAll(async () => {
    raw?.close();
    await app?.stop();
    process.env = saved;
    await jaeger?.stop();
  });

  it('answers every Check, starts a new trace for each malformed parent, and reports nothing', async () => {
    const cases = malformed();
    const ids: [string, string][] = [];
    for (const { name, headers } of cases) {
      expect((await check(raw, headers, {})).allowed, `${name} (request headers)`).toBe(true);
      ids.push([`${name} (request headers)`, app.decisions.at(-1)!.decision_id]);
      expect((await check(raw, {}, headers)).allowed, `${name} (gRPC metadata)`).toBe(true);
      ids.push([`${name} (gRPC metadata)`, app.decisions.at(-1)!.decision_id]);
    }
    // A valid parent sent after all of them: once it is in Jaeger, every earlier span was exported.
    const sentinel = hex(16);
    await check(raw, { traceparent: `00-${sentinel}-${hex(8)}-01` }, {});
    await eventually(async () => (await jaeger.trace(sentinel)) !== undefined, 20_000);
    for (const { name, ids } of cases) for (const id of ids) expect(await jaeger.trace(id.padStart(32, '0')), name).toBeUndefined();
    // Each of those Checks has its own trace: a server span without a parent, sampled by the root sampler.
    const servers = new Map<unknown, JaegerTrace>();
    await eventually(async () => {
      for (const trace of await jaeger.traces('gatehouse-hostile', 500)) {
        for (const span of trace.spans) if (span.operationName === CHECK) servers.set(tag(span, 'gatehouse.decision_id'), trace);
      }
      return ids.every(([, id]) => servers.has(id));
    }, 20_000).catch(() => undefined);
    for (const [name, id] of ids) {
      const trace = servers.get(id);
      expect(trace, `${name}: no span`).toBeDefined();
      const checks = trace!.spans.filter((span) => span.operationName === CHECK);
      expect(checks.map((span) => span.references.length), `${name}: not a new trace of its own`).toEqual([0]);
      expect(tag(checks[0]!, 'gatehouse.decision'), name).toBe('allow');
    }
    expect(app.logs.filter((line) => line.level >= 40), JSON.stringify(app.logs.filter((line) => line.level >= 40))).toEqual([]);
  }, 60_000);

  it('a huge or invalid tracestate keeps the valid traceparent; W3C wins over B3; a valid B3 is used when the traceparent is not valid', async () => {
    const cases: { headers: Record<string, string>; trace: string; parent: string }[] = [];
    const huge = hex(16);
    const hugeParent = hex(8);
    cases.push({ headers: { traceparent: `00-${huge}-${hugeParent}-01`, tracestate: Array.from({ length: 600 }, (_, i) => `k${i}=${'v'.repeat(20)}`).join(',') }, trace: huge, parent: hugeParent });
    const badState = hex(16);
    const badStateParent = hex(8);
    cases.push({ headers: { traceparent: `00-${badState}-${badStateParent}-01`, tracestate: '=,,=,UPPER=x,a=b c,' }, trace: badState, parent: badStateParent });
    const w3c = hex(16);
    const w3cParent = hex(8);
    const loser = hex(16);
    cases.push({ headers: { traceparent: `00-${w3c}-${w3cParent}-01`, b3: `${loser}-${hex(8)}-1`, 'x-b3-traceid': loser, 'x-b3-spanid': hex(8) }, trace: w3c, parent: w3cParent });
    const b3 = hex(16);
    const b3Parent = hex(8);
    cases.push({ headers: { traceparent: `00-${hex(16)}-${hex(8)}-01-extra`, b3: `${b3}-${b3Parent}-1` }, trace: b3, parent: b3Parent });
    const b3Short = hex(8);
    const b3ShortParent = hex(8);
    cases.push({ headers: { 'x-b3-traceid': b3Short, 'x-b3-spanid': b3ShortParent, 'x-b3-sampled': '1' }, trace: b3Short.padStart(32, '0'), parent: b3ShortParent });
    for (const { headers } of cases) {
      expect((await check(raw, headers, {})).allowed).toBe(true);
    }
    for (const { trace, parent } of cases) {
      let found: JaegerTrace | undefined;
      await eventually(async () => (found = await jaeger.trace(trace)) !== undefined && found.spans.length >= 3, 20_000);
      const server = found!.spans.find((span) => span.operationName === CHECK)!;
      expect(server.references.find((ref) => ref.refType === 'CHILD_OF')?.spanID, trace).toBe(parent);
    }
    expect(await jaeger.trace(loser)).toBeUndefined();
  }, 60_000);
});
