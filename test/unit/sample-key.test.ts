/** sampleKey: per-request ids, times and ports do not make an input distinct; what the policy reads does. */
import { describe, expect, it } from 'vitest';
import type { CachePlan } from '../../src/cache/plan.js';
import { sampleKey } from '../../src/policy/sample-key.js';

const input = (n: number, path = '/api/v1/stock/sku-1') => ({
  attributes: {
    source: { address: { socketAddress: { address: '10.0.0.1', portValue: 40000 + n } }, principal: 'spiffe://mesh.local/a' },
    request: {
      time: `2026-11-22T10:00:${String(n % 60).padStart(2, '0')}Z`,
      http: {
        id: String(n), method: 'GET', path,
        headers: { 'x-request-id': `r-${n}`, traceparent: `00-${n}-01-01`, b3: `${n}-1`, authorization: 'Bearer t' },
      },
    },
  },
  parsed_path: path.split('/').slice(1),
});
const key = (doc: unknown, plan?: CachePlan) => sampleKey(doc, JSON.stringify(doc), plan);

describe('sampleKey', () => {
  it('ignores x-request-id, trace headers, request.time, http.id and the source port', () => {
    const keys = new Set(Array.from({ length: 250 }, (_, n) => key(input(n))));
    expect(keys.size).toBe(1);
    expect(key(input(1, '/rare'))).not.toBe(key(input(1)));
  });

  it('keeps other headers and leaves the input itself untouched', () => {
    const doc = input(1);
    const other = input(1);
    other.attributes.request.http.headers.authorization = 'Bearer u';
    expect(key(other)).not.toBe(key(doc));
    key(doc);
    expect(doc.attributes.request.http.headers['x-request-id']).toBe('r-1');
    expect(doc.attributes.source.address.socketAddress.portValue).toBe(40001);
  });

  it('keys by the fields the policy reads when its cache plan knows them', () => {
    const plan: CachePlan = { enabled: true, fields: [['attributes', 'request', 'http', 'method'], ['parsed_path']], ttlMs: 1, why: '' };
    const withOtherAuth = input(2);
    withOtherAuth.attributes.request.http.headers.authorization = 'Bearer other';
    expect(key(withOtherAuth, plan)).toBe(key(input(1), plan));
    expect(key(input(1, '/rare'), plan)).not.toBe(key(input(1), plan));
  });

  it('falls back to the whole input when it has no attributes', () => {
    expect(key({ n: 1 })).toBe('{"n":1}');
  });
});
