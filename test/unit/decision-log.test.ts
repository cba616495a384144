import { describe, expect, it } from 'vitest';
import { authorize } from '../../src/authz/authorize.js';
import { COMPATIBLE } from '../../src/authz/hygiene/index.js';
import type { Outcome } from '../../src/authz/outcome.js';
import { authzProtos } from '../../src/grpc/protos.js';
import { DecisionLog, type LogLineResult } from '../../src/observability/decision-log.js';
import { traceContext } from '../../src/observability/trace-context.js';
import { eventually } from '../support/app.js';
import { checkRequestJson, encodeRequest, CHECKOUT } from '../support/requests.js';

/** An outcome from the real pipeline with a fixed boolean policy. */
function outcomeFor(request: Record<string, unknown>, allowed = true): Outcome {
  const protos = authzProtos();
  return authorize(encodeRequest(request), {
    decode: protos.decodeCheckRequest,
    currentPolicy: () => ({ revision: 'r1', bundle: 'b', digest: 'd', cachePlan: { enabled: false, why: 'test' }, evaluate: () => [{ result: allowed }] }),
    // compatible: the log must cope with anything a policy can be shown, control characters included.
    inputOptions: { maxBodyBytes: 1 << 20, hygiene: COMPATIBLE, xfccTrustedSources: new Set() },
    trustDomains: new Set(),
    newDecisionId: () => 'decision-1',
    nowNs: process.hrtime.bigint,
  });
}

function logWith(options: Partial<ConstructorParameters<typeof DecisionLog>[1]> = {}) {
  const lines: Record<string, any>[] = [];
  const results: LogLineResult[] = [];
  const log = new DecisionLog(
    { write: (line) => lines.push(JSON.parse(line)) },
    { path: 'envoy/authz/allow', labels: { app: 'gatehouse' }, maskPointers: [], maxValueBytes: 1024, allowSamplePercent: 100, ...options },
    (result) => results.push(result),
  );
  return { log, lines, results };
}

describe('decision log lines', () => {
  it('have the shape of OPA decision-log events plus gatehouse fields', () => {
    const { log, lines, results } = logWith();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    log.record(outcomeFor(checkRequestJson({ source: CHECKOUT, headers: { traceparent } })), {}, new Date('2026-11-22T10:00:00Z'));
    expect(results).toEqual(['written']);
    expect(lines[0]).toMatchObject({
      decision_id: 'decision-1',
      timestamp: '2026-11-22T10:00:00.000Z',
      path: 'envoy/authz/allow',
      result: true,
      bundles: { main: { revision: 'r1' } },
      labels: { app: 'gatehouse' },
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      span_id: '00f067aa0ba902b7',
      gatehouse: { outcome: 'allow', reason_code: 'policy_allowed', http_status: 200, cache: 'off', source_principal: CHECKOUT, source_spiffe_valid: true },
    });
    expect(lines[0]!.metrics.timer_server_handler_ns).toBeGreaterThan(0);
    expect(lines[0]!.input.parsed_path).toEqual(['api', 'v1', 'stock', 'sku-1']);
  });

  it('records errors with their code instead of a result', () => {
    const { log, lines } = logWith();
    log.record(outcomeFor({ attributes: { request: { http: { method: 'GET', path: 'relative' } } } }));
    expect(lines[0]).toMatchObject({ error: { code: 'input_parse_error' }, gatehouse: { outcome: 'deny', http_status: 400 } });
    expect(lines[0]).not.toHaveProperty('result');
  });

  it('masks secret headers and operator JSON pointers without touching the evaluated input', () => {
    const { log, lines } = logWith({ maskPointers: ['/input/parsed_body/password', '/input/parsed_body/cards/*/number', '/input/parsed_body/missing/x'] });
    const outcome = outcomeFor(
      checkRequestJson({
        source: CHECKOUT,
        method: 'POST',
        headers: { authorization: 'Bearer s3cret', 'x-api-key': 'k', cookie: 'a=b', 'content-type': 'application/json' },
        body: JSON.stringify({ user: 'ann', password: 'hunter2', cards: [{ number: '4111-1111-1111-1111', exp: '12/30' }, { number: '5500-0000-0000-0004' }] }),
      }),
    );
    log.record(outcome);
    const logged = lines[0]!.input;
    expect(logged.attributes.request.http.headers).toMatchObject({ authorization: '[masked]', 'x-api-key': '[masked]', cookie: '[masked]' });
    expect(logged.parsed_body).toEqual({ user: 'ann', password: '[masked]', cards: [{ number: '[masked]', exp: '12/30' }, { number: '[masked]' }] });
    expect(JSON.stringify(lines[0])).not.toMatch(/s3cret|hunter2|4111-1111|5500-0000/);
    // The input the policy saw is unchanged.
    expect((outcome.input as any).parsed_body.password).toBe('hunter2');
    expect((outcome.input as any).attributes.request.http.headers.authorization).toBe('Bearer s3cret');
  });

  it('truncates huge header values and bodies in the log only', () => {
    const { log, lines } = logWith({ maxValueBytes: 100 });
    const huge = 'x'.repeat(10_000);
    const outcome = outcomeFor(checkRequestJson({ source: CHECKOUT, headers: { 'x-huge': huge, 'x-binary': '\u0000\u0001'.repeat(500) }, body: huge }));
    log.record(outcome);
    const http = lines[0]!.input.attributes.request.http;
    expect(http.headers['x-huge']).toMatch(/^x{100}…\[truncated 9900 bytes\]$/);
    expect(http.headers['x-binary'].length).toBeLessThan(200);
    expect(http.body).toContain('[truncated');
    expect((outcome.input as any).attributes.request.http.headers['x-huge']).toHaveLength(10_000);
  });

  it('samples allows but always logs denies', () => {
    const { log, lines, results } = logWith({ allowSamplePercent: 0 });
    log.record(outcomeFor(checkRequestJson({ source: CHECKOUT }), true));
    log.record(outcomeFor(checkRequestJson({ source: CHECKOUT }), false));
    expect(results).toEqual(['sampled_out', 'written']);
    expect(lines.map((l) => l.gatehouse.outcome)).toEqual(['deny']);
  });

  it('survives a sink that fails (disk full): lines are counted as dropped and the error reported', async () => {
    const { openDecisionLogSink } = await import('../../src/observability/decision-log.js');
    const results: LogLineResult[] = [];
    const errors: unknown[] = [];
    const log = new DecisionLog(
      openDecisionLogSink('/dev/full', 1 << 20),
      { path: 'p', labels: {}, maskPointers: [], maxValueBytes: 1024, allowSamplePercent: 100, onSinkError: (e) => errors.push(e) },
      (result) => results.push(result),
    );
    log.record(outcomeFor(checkRequestJson({ source: CHECKOUT })));
    await eventually(() => errors.length > 0); // the write fails asynchronously
    for (let i = 0; i < 4; i++) log.record(outcomeFor(checkRequestJson({ source: CHECKOUT })));
    expect(errors.length).toBe(1); // reported once, not per line
    expect(String((errors[0] as Error).message)).toMatch(/ENOSPC|destroyed/);
    expect(results.slice(1)).toEqual(['dropped', 'dropped', 'dropped', 'dropped']);
  });

  it('counts a line the sink dropped', () => {
    let onDrop: () => void = () => undefined;
    const results: LogLineResult[] = [];
    const log = new DecisionLog(
      { write: () => onDrop(), on: (_event, listener) => (onDrop = listener) },
      { path: 'p', labels: {}, maskPointers: [], maxValueBytes: 1024, allowSamplePercent: 100 },
      (result) => results.push(result),
    );
    log.record(outcomeFor(checkRequestJson({ source: CHECKOUT })));
    expect(results).toEqual(['dropped']);
  });
});

describe('trace context', () => {
  it.each([
    [{ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }, { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', span_id: '00f067aa0ba902b7' }],
    [{ b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90' }, { trace_id: '80f198ee56343ba864fe8b2a57d3eff7', span_id: 'e457b5a2e4d86bd1' }],
    [{ 'x-b3-traceid': '463ac35c9f6413ad', 'x-b3-spanid': 'a2fb4a1d1a96d312' }, { trace_id: '0000000000000000463ac35c9f6413ad', span_id: 'a2fb4a1d1a96d312' }],
  ])('reads %j', (headers, expected) => {
    expect(traceContext(headers)).toEqual(expected);
  });

  it.each([
    { traceparent: 'garbage' },
    { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' },
    { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01' },
    { traceparent: 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    { traceparent: '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01' },
    { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra' },
    { b3: 'not-hex' },
    { 'x-b3-traceid': '463ac35c9f6413ad' },
  ])('ignores malformed %j', (headers) => {
    expect(traceContext(headers)).toBeUndefined();
  });
});
