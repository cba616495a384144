import { describe, expect, it } from 'vitest';
import { parseSpiffeId } from '../../src/identity/spiffe.js';

describe('SPIFFE ID parsing', () => {
  it('parses an Istio-style ID with namespace and service account', () => {
    expect(parseSpiffeId('spiffe://prod.example/ns/shop/sa/checkout')).toEqual({
      valid: true,
      spiffe_id: 'spiffe://prod.example/ns/shop/sa/checkout',
      trust_domain: 'prod.example',
      path: '/ns/shop/sa/checkout',
      segments: ['ns', 'shop', 'sa', 'checkout'],
      namespace: 'shop',
      service_account: 'checkout',
    });
  });

  it('parses IDs of other shapes without namespace fields', () => {
    expect(parseSpiffeId('spiffe://td/workload-1')).toMatchObject({ valid: true, segments: ['workload-1'] });
    expect(parseSpiffeId('spiffe://td')).toMatchObject({ valid: true, path: '', segments: [] });
    expect(parseSpiffeId('spiffe://td/ns/a/sa/b/extra')).not.toHaveProperty('namespace');
  });

  it.each([
    ['', 'empty'],
    ['checkout.shop.svc', 'scheme is not spiffe://'],
    ['SPIFFE://td/a', 'scheme is not spiffe://'],
    ['CN=checkout,O=shop', 'scheme is not spiffe://'],
    ['spiffe://', 'trust domain is empty'],
    ['spiffe:///a', 'trust domain is empty'],
    ['spiffe://Prod.example/a', 'lower-case'],
    ['spiffe://td:8443/a', 'port'],
    ['spiffe://user@td/a', 'userinfo'],
    ['spiffe://td/a/', 'trailing "/"'],
    ['spiffe://td/a//b', 'empty path segment'],
    ['spiffe://td/a/../b', '".." path segment'],
    ['spiffe://td/./b', '"." path segment'],
    ['spiffe://td/a/%2e%2e', 'percent-encoding'],
    ['spiffe://td/a?x=1', 'query'],
    ['spiffe://td/a#f', 'fragment'],
    ['spiffe://td/a\u0000b', 'character outside'],
    ['spiffe://td/caf\u00e9', 'character outside'],
    ['spiffe://t\u00e9d/a', 'character outside'],
    [`spiffe://td/${'a'.repeat(2040)}`, 'longer than 2048 bytes'],
  ])('rejects %j (%s)', (id, reason) => {
    const parsed = parseSpiffeId(id);
    expect(parsed.valid).toBe(false);
    if (!parsed.valid) expect(parsed.error).toContain(reason);
  });
});
