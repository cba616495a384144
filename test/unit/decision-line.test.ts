/**
 * Without mask pointers, a decision-log line is composed from parts (and reuses the input text the
 * policy evaluated) instead of serialising one event object. These tests hold the composed line
 * to the object form, byte for byte, and check that the reused text never bypasses masking.
 */
import { describe, expect, it } from 'vitest';
import { authorize } from '../../src/authz/authorize.js';
import { COMPATIBLE } from '../../src/authz/hygiene/index.js';
import type { Outcome } from '../../src/authz/outcome.js';
import { authzProtos } from '../../src/grpc/protos.js';
import { DecisionLog, decisionEvent, MASKED } from '../../src/observability/decision-log.js';
import { checkRequestJson, encodeRequest, CHECKOUT } from '../support/requests.js';

const OPTIONS = { path: 'envoy/authz/allow', labels: { app: 'gatehouse', id: 'a"b' }, maskPointers: [] as string[], maxValueBytes: 64, allowSamplePercent: 100 };
const NOW = new Date('2026-11-22T10:00:00Z');

/** An outcome from the real pipeline; `result` is what the fixed policy returns. */
async function outcomeFor(request: Record<string, unknown>, result: unknown = true, builtinErrors?: string[]): Promise<Outcome> {
  const protos = authzProtos();
  return await Promise.resolve(
    authorize(encodeRequest(request), {
      decode: protos.decodeCheckRequest,
      currentPolicy: () => ({
        revision: 'r"1',
        bundle: 'b',
        digest: 'd',
        cachePlan: { enabled: false, why: 'test' },
        evaluate: (_input, call) => {
          if (builtinErrors && call) call.builtinErrors = builtinErrors;
          return result === undefined ? [] : [{ result }];
        },
      }),
      inputOptions: { maxBodyBytes: 1 << 20, hygiene: COMPATIBLE, xfccTrustedSources: new Set() },
      trustDomains: new Set(),
      newDecisionId: () => 'decision-1',
      nowNs: process.hrtime.bigint,
    }),
  );
}

function lineOf(outcome: Outcome, extra: Record<string, unknown> = {}, options = OPTIONS): string {
  const lines: string[] = [];
  new DecisionLog({ write: (line) => lines.push(line) }, options, () => undefined).record(outcome, extra, NOW);
  expect(lines).toHaveLength(1);
  expect(lines[0]!.endsWith('\n')).toBe(true);
  return lines[0]!.slice(0, -1);
}

/** The line as the event object serialises (what the log wrote before lines were composed). */
function objectLine(outcome: Outcome, extra: Record<string, unknown> = {}): string {
  const event = decisionEvent(outcome, OPTIONS, NOW);
  Object.assign(event.gatehouse as Record<string, unknown>, extra);
  return JSON.stringify(event);
}

const LONG = 'v'.repeat(200);

const CASES: [string, () => Promise<Outcome>][] = [
  ['an allow with a W3C trace', () => outcomeFor(checkRequestJson({ source: CHECKOUT, headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } }))],
  ['a deny with a structured result', () => outcomeFor(checkRequestJson({ source: CHECKOUT }), { allowed: false, http_status: 451, reason: 'nope "quoted"\n', headers: { 'x-a': '1' } })],
  ['an undefined decision (error, no result)', () => outcomeFor(checkRequestJson({ source: CHECKOUT }), undefined)],
  ['a request refused before evaluation', () => outcomeFor({ attributes: { request: { http: { method: 'GET', path: 'relative' } } } })],
  ['no attributes at all (no input)', () => outcomeFor({})],
  ['secret headers (masked)', () => outcomeFor(checkRequestJson({ source: CHECKOUT, headers: { authorization: 'Bearer secret', cookie: 'session=secret', 'x-ok': 'fine' } }))],
  ['a long header value (truncated)', () => outcomeFor(checkRequestJson({ source: CHECKOUT, headers: { 'x-long': LONG } }))],
  ['a long body (truncated)', () => outcomeFor(checkRequestJson({ source: CHECKOUT, method: 'POST', headers: { 'content-type': 'text/plain' }, body: `é${LONG}` }))],
  ['builtin errors and unicode', () => outcomeFor(checkRequestJson({ source: CHECKOUT, headers: { 'x-uni': '\u2028 "é" \u0000' } }), true, ['sprintf: bad'])],
  ['header_map entries, masked and long', () => {
    const request = checkRequestJson({ source: CHECKOUT });
    const http = (request.attributes as { request: { http: Record<string, unknown> } }).request.http;
    delete http.headers;
    http.headerMap = { headers: [{ key: ':path', value: '/api/v1/stock/sku-1' }, { key: 'Authorization', rawValue: Buffer.from('Bearer secret').toString('base64') }, { key: 'x-long', value: LONG }, { key: 'x-raw', rawValue: Buffer.from('raw').toString('base64') }] };
    return outcomeFor(request);
  }],
  ['header_map entries, nothing to change', () => {
    const request = checkRequestJson({ source: CHECKOUT });
    const http = (request.attributes as { request: { http: Record<string, unknown> } }).request.http;
    delete http.headers;
    http.headerMap = { headers: [{ key: ':path', value: '/api/v1/stock/sku-1' }, { key: 'x-raw', rawValue: Buffer.from('raw').toString('base64') }] };
    return outcomeFor(request);
  }],
];

describe('composed decision-log lines', () => {
  for (const [name, make] of CASES) {
    it(`equal the serialised event: ${name}`, async () => {
      const outcome = await make();
      expect(lineOf(outcome)).toBe(objectLine(outcome));
      const extra = { dry_run: true, enforced: 'allow', shadow: { revision: 'r2', outcome: 'deny', comparison: 'allow_to_deny' }, outcome: 'overridden' };
      expect(lineOf(outcome, extra)).toBe(objectLine(outcome, extra));
      // A cache hit has no input text; the line is the same.
      expect(lineOf({ ...outcome, inputJson: undefined, cache: 'hit' })).toBe(objectLine({ ...outcome, inputJson: undefined, cache: 'hit' }));
    });
  }

  it('reuse the evaluated input text when nothing in it is masked or truncated', async () => {
    const outcome = await outcomeFor(checkRequestJson({ source: CHECKOUT, headers: { 'x-ok': 'fine' } }));
    expect(outcome.inputJson).toBeDefined();
    expect(lineOf(outcome)).toContain(`"input":${outcome.inputJson},`);
  });

  it('never reuse the evaluated input text when it holds a secret or a long value', async () => {
    for (const headers of [{ authorization: 'Bearer secret-token' }, { 'x-api-key': 'secret-token' }, { 'x-long': `secret-token${LONG}` }]) {
      const outcome = await outcomeFor(checkRequestJson({ source: CHECKOUT, headers }));
      expect(outcome.inputJson).toContain('secret-token');
      const line = lineOf(outcome);
      expect(line).not.toContain(outcome.inputJson!);
      const logged = JSON.parse(line).input.attributes.request.http.headers;
      for (const name of Object.keys(headers)) expect(logged[name] === MASKED || logged[name].includes('…[truncated')).toBe(true);
    }
  });

  it('with mask pointers, mask the reused input too', async () => {
    const outcome = await outcomeFor(checkRequestJson({ source: CHECKOUT, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"password":"hunter2"}' }));
    expect(outcome.inputJson).toContain('hunter2');
    const line = lineOf(outcome, {}, { ...OPTIONS, maskPointers: ['/input/parsed_body/password'] });
    expect(line).not.toContain('hunter2');
    expect(JSON.parse(line).input.parsed_body.password).toBe(MASKED);
  });
});
