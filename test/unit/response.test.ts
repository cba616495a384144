import { describe, expect, it } from 'vitest';
import { validateDecision } from '../../src/authz/decision.js';
import type { Outcome } from '../../src/authz/outcome.js';
import { structToJson } from '../../src/authz/proto-json.js';
import { toCheckResponse } from '../../src/authz/response.js';
import { GatehouseError } from '../../src/errors.js';
import { authzProtos } from '../../src/grpc/protos.js';

const timings = { inputNs: 1, evalNs: 1, totalNs: 2 };

function decided(value: unknown): Outcome {
  const decision = validateDecision(value);
  return {
    decisionId: 'd-1',
    allowed: decision.allowed,
    httpStatus: decision.httpStatus,
    reasonLabel: decision.allowed ? 'policy_allowed' : 'policy_denied',
    reason: 'r',
    decision,
    cache: 'off',
    timings,
  };
}

/** Round-trip through the real protobuf encoding, as Envoy would receive it. */
function wire(outcome: Outcome): Record<string, any> {
  const protos = authzProtos();
  return protos.decodeCheckResponse(protos.encodeCheckResponse(toCheckResponse(outcome)));
}

describe('Outcome → CheckResponse', () => {
  it('builds an OK response with header and query mutations, append_action on every header', () => {
    const response = wire(
      decided({
        allowed: true,
        headers: { 'x-user': ['ann', 'bob'] },
        response_headers_to_add: { 'x-served-by': 'gatehouse', 'set-cookie': ['a=1', 'b=2'] },
        request_headers_to_remove: ['cookie'],
        query_parameters_to_set: { a: '1' },
        query_parameters_to_remove: ['token'],
        dynamic_metadata: { tier: 'gold', decision_id: 'forged' },
      }),
    );
    expect(response.status?.code ?? 0).toBe(0);
    expect(response.okResponse.headers).toEqual([
      { header: { key: 'x-user', value: 'ann' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' },
      // Envoy sets every upstream entry without the deprecated append flag: later values need it.
      { header: { key: 'x-user', value: 'bob' }, appendAction: 'APPEND_IF_EXISTS_OR_ADD', append: { value: true } },
    ]);
    // A single value overwrites the upstream's; several values are each added (Envoy sets after adding).
    expect(response.okResponse.responseHeadersToAdd).toEqual([
      { header: { key: 'x-served-by', value: 'gatehouse' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' },
      { header: { key: 'set-cookie', value: 'a=1' }, appendAction: 'APPEND_IF_EXISTS_OR_ADD' },
      { header: { key: 'set-cookie', value: 'b=2' }, appendAction: 'APPEND_IF_EXISTS_OR_ADD' },
    ]);
    expect(response.okResponse.headersToRemove).toEqual(['cookie']);
    expect(response.okResponse.queryParametersToSet).toEqual([{ key: 'a', value: '1' }]);
    expect(response.okResponse.queryParametersToRemove).toEqual(['token']);
    // The policy cannot forge the decision id.
    expect(structToJson(response.dynamicMetadata)).toEqual({ tier: 'gold', decision_id: 'd-1', reason_code: 'policy_allowed' });
    expect(response.deniedResponse).toBeUndefined();
  });

  it('builds a denied response with status, headers and body', () => {
    const response = wire(decided({ allowed: false, http_status: 429, headers: { 'retry-after': '5' }, body: 'slow down' }));
    expect(response.status).toEqual({ code: 7, message: 'policy_denied' });
    expect(response.deniedResponse.status.code).toBe('TooManyRequests');
    expect(response.deniedResponse.headers[0]).toEqual({ header: { key: 'retry-after', value: '5' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' });
    expect(response.deniedResponse.body).toBe('slow down');
    expect(structToJson(response.dynamicMetadata)).toEqual({ decision_id: 'd-1', reason_code: 'policy_denied' });
    expect(response.okResponse).toBeUndefined();
  });

  it('uses UNAUTHENTICATED for 401', () => {
    expect(wire(decided({ allowed: false, http_status: 401 })).status.code).toBe(16);
  });

  it('denies an error outcome with its status and code', () => {
    const outcome: Outcome = {
      decisionId: 'd-2',
      allowed: false,
      httpStatus: 503,
      reasonLabel: 'policy_not_loaded',
      reason: 'no policy',
      error: new GatehouseError('policy_not_loaded', 'no policy') as never,
      cache: 'off',
      timings,
    };
    const response = wire(outcome);
    expect(response.status.code).toBe(7);
    expect(response.deniedResponse.status.code).toBe('ServiceUnavailable');
    expect(structToJson(response.dynamicMetadata)).toEqual({ decision_id: 'd-2', reason_code: 'policy_not_loaded' });
  });
});

describe('encoded responses of cached decisions', () => {
  it('are byte-for-byte the same message as a fresh encoding, with the per-Check decision id', async () => {
    const { encodeResponse } = await import('../../src/grpc/check-service.js');
    const protos = authzProtos();
    for (const value of [
      { allowed: true, headers: { 'x-a': '1' }, dynamic_metadata: { tier: 'gold', decision_id: 'forged' } },
      { allowed: false, http_status: 429, body: 'slow down' },
      true,
    ]) {
      const hit: Outcome = { ...decided(value), cache: 'hit' };
      for (const [id, dryRun] of [['id-1', false], ['a-much-longer-decision-id-0123456789', false], ['id-3', true], ['x'.repeat(300), false]] as const) {
        const cached = protos.decodeCheckResponse(encodeResponse({ ...hit, decisionId: id }, protos, dryRun));
        const fresh = protos.decodeCheckResponse(encodeResponse({ ...hit, decisionId: id, cache: 'miss' }, protos, dryRun));
        expect(cached).toEqual(fresh);
        expect(structToJson(cached.dynamicMetadata).decision_id).toBe(id);
      }
    }
  });
});
