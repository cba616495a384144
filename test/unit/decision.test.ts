import { describe, expect, it } from 'vitest';
import { decisionFromResultSet, validateDecision } from '../../src/authz/decision.js';

describe('decision validation', () => {
  it('accepts booleans', () => {
    expect(validateDecision(true)).toMatchObject({ allowed: true, headers: [], httpStatus: 403 });
    expect(validateDecision(false).allowed).toBe(false);
  });

  it('accepts every documented field', () => {
    const decision = validateDecision({
      allowed: true,
      headers: { 'X-User': 'ann', 'x-roles': ['a', 'b'] },
      response_headers_to_add: [{ 'x-trace': '1' }, { 'x-trace': '2' }],
      request_headers_to_remove: ['Cookie'],
      query_parameters_to_set: { debug: 'false' },
      query_parameters_to_remove: ['token'],
      body: '',
      http_status: 200,
      dynamic_metadata: { tier: 'gold' },
      reason: 'ok',
      ignored_extra: 1,
    });
    expect(decision.headers).toEqual([['x-user', 'ann'], ['x-roles', 'a'], ['x-roles', 'b']]);
    expect(decision.responseHeadersToAdd).toEqual([['x-trace', '1'], ['x-trace', '2']]);
    expect(decision.requestHeadersToRemove).toEqual(['cookie']);
    expect(decision.queryParametersToSet).toEqual([['debug', 'false']]);
    expect(decision.queryParametersToRemove).toEqual(['token']);
    expect(decision.dynamicMetadata).toEqual({ tier: 'gold' });
    expect(decision.reason).toBe('ok');
  });

  it.each([
    [1, 'must be a boolean or an object'],
    ['true', 'must be a boolean or an object'],
    [null, 'must be a boolean or an object'],
    [[true], 'must be a boolean or an object'],
    [{}, 'decision.allowed must be a boolean'],
    [{ allowed: 'true' }, 'decision.allowed must be a boolean'],
    [{ allowed: 1 }, 'decision.allowed must be a boolean'],
    [{ allowed: true, headers: 'x' }, 'decision.headers must be an object'],
    [{ allowed: true, headers: { 'bad name': 'v' } }, 'invalid name'],
    [{ allowed: true, headers: { x: 1 } }, 'must be a string or a list of strings'],
    [{ allowed: true, headers: { x: 'a\nb' } }, 'CR, LF or NUL'],
    [{ allowed: true, headers: { x: 'a\u0000b' } }, 'CR, LF or NUL'],
    [{ allowed: true, request_headers_to_remove: 'cookie' }, 'must be a list of strings'],
    [{ allowed: true, request_headers_to_remove: [''] }, 'invalid entry'],
    [{ allowed: false, http_status: '403' }, 'http_status must be an HTTP status code Envoy supports'],
    [{ allowed: false, http_status: 403.5 }, 'http_status must be an HTTP status code Envoy supports'],
    [{ allowed: false, http_status: 700 }, 'http_status must be an HTTP status code Envoy supports'],
    [{ allowed: false, http_status: 418 }, 'http_status must be an HTTP status code Envoy supports'],
    [{ allowed: false, http_status: 200 }, 'would look like success'],
    [{ allowed: false, body: { a: 1 } }, 'decision.body must be a string'],
    [{ allowed: true, dynamic_metadata: [1] }, 'dynamic_metadata must be an object'],
    [{ allowed: true, reason: 5 }, 'decision.reason must be a string'],
  ])('rejects %j', (value, message) => {
    expect(() => validateDecision(value)).toThrow(message);
  });

  it('treats an empty result set as an undefined decision', () => {
    expect(() => decisionFromResultSet([])).toThrow(expect.objectContaining({ code: 'decision_undefined' }));
    expect(() => decisionFromResultSet(undefined)).toThrow(expect.objectContaining({ code: 'decision_undefined' }));
    expect(() => decisionFromResultSet([{}])).toThrow(expect.objectContaining({ code: 'decision_undefined' }));
    expect(() => decisionFromResultSet([{ result: true }, { result: false }])).toThrow(expect.objectContaining({ code: 'decision_invalid' }));
    expect(decisionFromResultSet([{ result: true }]).allowed).toBe(true);
  });
});
