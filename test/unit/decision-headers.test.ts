/**
 * Header rules of decision validation: control characters, single-value fields, framing fields,
 * and an empty list on an allow's `headers` (removes the client's header).
 */
import { describe, expect, it } from 'vitest';
import { validateDecision } from '../../src/authz/decision.js';
import { toCheckResponse } from '../../src/authz/response.js';
import type { Outcome } from '../../src/authz/outcome.js';

describe('decision header validation', () => {
  it.each([
    ['\u0001'], ['\u0008'], ['\u000b'], ['\u001f'], ['\u007f'], ['\r'], ['\n'], ['\u0000'],
  ])('refuses a value with control character %j', (char) => {
    expect(() => validateDecision({ allowed: true, headers: { 'x-a': `a${char}b` } })).toThrow(/control character/);
    expect(() => validateDecision({ allowed: true, response_headers_to_add: { 'set-cookie': [`a${char}`, 'b=2'] } })).toThrow(/control character/);
    expect(() => validateDecision({ allowed: false, headers: { 'set-cookie': [`x${char}y`, 'z'] } })).toThrow(/control character/);
  });

  it('accepts tab and non-ASCII text', () => {
    expect(validateDecision({ allowed: true, headers: { 'x-a': 'a\tb', 'x-b': 'é' } }).headers).toEqual([['x-a', 'a\tb'], ['x-b', 'é']]);
  });

  it.each(['location', 'host', ':authority', 'content-type', 'authorization', 'cookie'])('refuses several values for single-value %s', (name) => {
    expect(() => validateDecision({ allowed: false, http_status: 302, headers: { [name]: ['/a', '/b'] } })).toThrow(new RegExp(`\\["${name}"\\] has 2 values`));
    expect(() => validateDecision({ allowed: true, headers: [{ [name]: 'a' }, { [name.toUpperCase()]: 'b' }] })).toThrow(/has 2 values/);
    expect(validateDecision({ allowed: true, headers: { [name]: 'one' } }).headers).toEqual([[name, 'one']]);
  });

  it.each(['content-length', 'transfer-encoding', 'connection'])('refuses %s in every header list', (name) => {
    expect(() => validateDecision({ allowed: true, response_headers_to_add: { [name]: '1' } })).toThrow(/may not set/);
    expect(() => validateDecision({ allowed: true, headers: { [name]: '1' } })).toThrow(/may not set/);
    expect(() => validateDecision({ allowed: false, headers: { [name]: '5' }, body: 'hello world' })).toThrow(/may not set/);
  });

  it('an empty list on an allow\'s headers removes that header from the request', () => {
    const decision = validateDecision({ allowed: true, headers: { 'x-multi': [], 'x-a': '1' }, request_headers_to_remove: ['x-b'] });
    expect(decision.headers).toEqual([['x-a', '1']]);
    expect(decision.requestHeadersToRemove).toEqual(['x-b', 'x-multi']);
  });

  it('an empty list next to values of the same name, or on a deny, or in response_headers_to_add, removes nothing', () => {
    expect(validateDecision({ allowed: true, headers: [{ 'x-a': [] }, { 'x-a': '1' }] }).requestHeadersToRemove).toEqual([]);
    expect(validateDecision({ allowed: false, headers: { 'x-a': [] } }).requestHeadersToRemove).toEqual([]);
    const decision = validateDecision({ allowed: true, response_headers_to_add: { 'set-cookie': [] } });
    expect(decision.responseHeadersToAdd).toEqual([]);
    expect(decision.requestHeadersToRemove).toEqual([]);
  });

  it('refuses removing a pseudo-header or host, by list or by an empty list', () => {
    expect(() => validateDecision({ allowed: true, headers: { host: [] } })).toThrow(/cannot remove/);
    expect(() => validateDecision({ allowed: true, request_headers_to_remove: [':authority'] })).toThrow(/cannot remove/);
  });
});

describe('set-cookie in response_headers_to_add', () => {
  const outcome = (responseHeadersToAdd: Record<string, string | string[]>): Outcome =>
    ({ allowed: true, decision: validateDecision({ allowed: true, response_headers_to_add: responseHeadersToAdd }), decisionId: 'd', reasonLabel: 'policy_allowed', httpStatus: 200 }) as unknown as Outcome;

  it('is always appended, also with one value; other single values overwrite', () => {
    const response = toCheckResponse(outcome({ 'set-cookie': 'a=1', 'cache-control': 'no-store' }));
    expect(response.okResponse?.responseHeadersToAdd).toEqual([
      { header: { key: 'set-cookie', value: 'a=1' }, appendAction: 'APPEND_IF_EXISTS_OR_ADD' },
      { header: { key: 'cache-control', value: 'no-store' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' },
    ]);
  });
});
