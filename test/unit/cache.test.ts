import { describe, expect, it } from 'vitest';
import { validateDecision } from '../../src/authz/decision.js';
import { cacheKey, valueAt } from '../../src/cache/cache-key.js';
import { DecisionCache } from '../../src/cache/decision-cache.js';
import { planCache } from '../../src/cache/plan.js';

const FIELDS = [['attributes', 'request', 'http', 'method'], ['parsed_path'], ['identity', 'source']];
const input = (method: unknown, path: unknown, source?: unknown) => ({
  attributes: { request: { http: { method, headers: { 'x-request-id': String(Math.random()) } } } },
  parsed_path: path,
  ...(source === undefined ? {} : { identity: { source } }),
});
const key = (i: unknown, digest = 'd1') => cacheKey(digest, FIELDS, i, 16 * 1024);

describe('cache keys', () => {
  it('ignore fields the policy does not read (request ids)', () => {
    expect(key(input('GET', ['a']))).toBe(key(input('GET', ['a'])));
  });

  it('differ by bundle digest', () => {
    expect(key(input('GET', ['a']), 'd1')).not.toBe(key(input('GET', ['a']), 'd2'));
  });

  it.each([
    ['absent vs null', input('GET', ['a']), input('GET', ['a'], null)],
    ['separator injection across fields', input('GET","x', ['a']), input('GET', ['x","a'])],
    ['separator injection inside arrays', input('GET', ['a,b']), input('GET', ['a', 'b'])],
    ['empty string vs absent', input('', ['a']), { ...input('GET', ['a']), attributes: { request: { http: {} } } }],
    ['unicode look-alikes', input('GET', ['admin']), input('GET', ['\u0430dmin'])],
    ['composed vs decomposed', input('GET', ['caf\u00e9']), input('GET', ['cafe\u0301'])],
    ['number vs string', input('GET', [1]), input('GET', ['1'])],
    ['nested quotes', input('GET', ['"]']), input('GET', ['\\"]'])],
  ])('never collide: %s', (_name, a, b) => {
    expect(key(a)).not.toBe(key(b));
  });

  it('read only object keys, like Rego does', () => {
    expect(valueAt({ a: [1, 2] }, ['a', 'length'])).toBeUndefined();
    expect(valueAt({ a: {} }, ['a', 'constructor'])).toBeUndefined();
    expect(valueAt({ a: { b: 0 } }, ['a', 'b'])).toBe(0);
  });

  it('are refused when longer than the limit', () => {
    expect(cacheKey('d', FIELDS, input('GET', ['x'.repeat(20_000)]), 16 * 1024)).toBeUndefined();
  });
});

describe('decision cache', () => {
  const value = { result: true, decision: validateDecision(true) };

  it('evicts the least recently used entry beyond max entries', () => {
    const cache = new DecisionCache({ maxEntries: 2, maxBytes: 1 << 20, nowMs: () => 0 });
    cache.set('a', value, 1000, 8);
    cache.set('b', value, 1000, 8);
    expect(cache.get('a')).toBeDefined(); // a is now the most recent
    cache.set('c', value, 1000, 8);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('c')).toBeDefined();
    expect(cache.stats()).toMatchObject({ entries: 2, evictions: 1 });
  });

  it('expires entries after their TTL', () => {
    let now = 0;
    const cache = new DecisionCache({ maxEntries: 10, maxBytes: 1 << 20, nowMs: () => now });
    cache.set('a', value, 100, 8);
    now = 99;
    expect(cache.get('a')).toBeDefined();
    now = 100;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.stats().entries).toBe(0);
  });

  it('stays within its byte bound under a million distinct keys', () => {
    const maxBytes = 4 * 1024 * 1024;
    const cache = new DecisionCache({ maxEntries: 10_000_000, maxBytes, nowMs: () => 0 });
    let peak = 0;
    for (let i = 0; i < 1_000_000; i++) {
      cache.set(`["digest",["GET"],[["api","v1","item-${i}"]]]`, value, 60_000, 8);
      if (i % 10_000 === 0) peak = Math.max(peak, cache.stats().bytes);
    }
    const stats = cache.stats();
    expect(stats.bytes).toBeLessThanOrEqual(maxBytes);
    expect(peak).toBeLessThanOrEqual(maxBytes);
    expect(stats.entries).toBeGreaterThan(1000);
    expect(stats.evictions).toBe(1_000_000 - stats.entries);
  });

  it('does not store an entry larger than 1/16 of the byte bound', () => {
    const cache = new DecisionCache({ maxEntries: 10, maxBytes: 64 * 1024, nowMs: () => 0 });
    cache.set('big', value, 1000, 8 * 1024);
    expect(cache.get('big')).toBeUndefined();
  });
});

describe('cache plan', () => {
  const settings = { mode: 'auto' as const, ttlMs: 1000, keyFields: [], nondeterministicTtlMs: 0 };
  const analysis = { version: 1, fields: [['parsed_path']], nondeterministic: [] };

  it('caches a deterministic policy keyed on its fields', () => {
    expect(planCache(analysis, settings)).toMatchObject({ enabled: true, fields: [['parsed_path']], ttlMs: 1000 });
  });

  it.each([
    ['off', undefined, { mode: 'off' as const }, 'decision_cache is off'],
    ['no analysis', undefined, {}, 'no cache analysis'],
    ['whole input', { ...analysis, uncacheable: 'the policy reads input as a whole' }, {}, 'reads input as a whole'],
    ['time', { ...analysis, nondeterministic: ['time.now_ns'] }, {}, 'time.now_ns'],
  ])('does not cache: %s', (_name, a, s, why) => {
    const plan = planCache(a, { ...settings, ...s });
    expect(plan.enabled).toBe(false);
    expect(plan.why).toContain(why);
  });

  it('caches a non-deterministic policy only with the operator TTL', () => {
    expect(planCache({ ...analysis, nondeterministic: ['time.now_ns'] }, { ...settings, nondeterministicTtlMs: 50 })).toMatchObject({ enabled: true, ttlMs: 50 });
  });

  it('lets the operator override the key fields', () => {
    expect(planCache(undefined, { ...settings, keyFields: ['input.attributes.request.http.method'] })).toMatchObject({
      enabled: true,
      fields: [['attributes', 'request', 'http', 'method']],
    });
  });
});
