/**
 * The host builtins whose results cannot be compared with `opa eval` value for value: randomness
 * (rand.intn, uuid.rfc4122: memoised per evaluation), opa.runtime (no environment), print's line
 * building, trace, the casts, and the guards gatehouse adds (expansion and range sizes). Plus the
 * value order the builtins share. Exactness on everything else: test/integration/builtins-*.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { HOST_BUILTINS } from '../../../src/policy/builtins/all.js';
import type { BuiltinContext, RegoValue } from '../../../src/policy/builtins/types.js';
import { compareValues, regoEqual, ValueSet, valueKey } from '../../../src/policy/builtins/value-order.js';
import { testContext } from '../../support/jose-fixtures.js';

const call = (name: string, ctx: BuiltinContext, ...args: RegoValue[]) => HOST_BUILTINS.get(name)!.fn(ctx, ...args);

describe('rand.intn', () => {
  it('is memoised per evaluation on the string and |n|, and 0 for n = 0', () => {
    const ctx = testContext();
    const a = call('rand.intn', ctx, 'k', 1_000_000);
    expect(call('rand.intn', ctx, 'k', 1_000_000)).toBe(a);
    expect(call('rand.intn', ctx, 'k', -1_000_000)).toBe(a);
    expect(call('rand.intn', ctx, 'k', 0)).toBe(0);
    const draws = new Set(Array.from({ length: 20 }, () => call('rand.intn', testContext(), 'k', 1_000_000)));
    expect(draws.size).toBeGreaterThan(1);
    for (const d of draws) expect(d as number).toBeGreaterThanOrEqual(0);
  });

  it('draws below |n| for big n too', () => {
    const v = call('rand.intn', testContext(), 'x', 2n ** 62n) as number | bigint;
    expect(BigInt(v) < 2n ** 62n && BigInt(v) >= 0n).toBe(true);
    expect(() => call('rand.intn', testContext(), 'x', 1.5)).toThrow();
  });

  it('is flagged nondeterministic, as uuid.rfc4122 is', () => {
    expect(HOST_BUILTINS.get('rand.intn')!.nondeterministic).toBe(true);
    expect(HOST_BUILTINS.get('uuid.rfc4122')!.nondeterministic).toBe(true);
  });
});

describe('uuid.rfc4122', () => {
  it('is a version 4 RFC 4122 UUID, the same for the same key within one evaluation', () => {
    const ctx = testContext();
    const u = call('uuid.rfc4122', ctx, 'a') as string;
    expect(u).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(call('uuid.rfc4122', ctx, 'a')).toBe(u);
    expect(call('uuid.rfc4122', ctx, 'b')).not.toBe(u);
    expect(call('uuid.rfc4122', testContext(), 'a')).not.toBe(u);
    expect(call('uuid.parse', ctx, u)).toMatchObject({ version: 4, variant: 'RFC4122' });
  });
});

describe('opa.runtime and trace', () => {
  it('answer what OPA answers without a runtime: an empty object, and true', () => {
    const r = call('opa.runtime', testContext()) as Record<string, RegoValue>;
    expect(Object.keys(r)).toEqual([]);
    expect(call('trace', testContext(), 'note')).toBe(true);
    expect(() => call('trace', testContext(), 1)).toThrow('operand 1 must be string');
  });
});

describe('internal.print', () => {
  it('writes one line per combination of the operands\' values, undefined as <undefined>', () => {
    const lines: string[] = [];
    const ctx = { ...testContext(), print: (l: string) => lines.push(l) };
    call('internal.print', ctx, [new Set(['x']), new Set([2, 1]), new Set(), new Set([new Set(['b', 'a'])])]);
    expect(lines).toEqual(['x 1 <undefined> {"a", "b"}', 'x 2 <undefined> {"a", "b"}']);
    expect(() => call('internal.print', ctx, [[1]])).toThrow('illegal argument type');
  });
});

describe('casts', () => {
  it('pass values of their type and refuse others', () => {
    const ctx = testContext();
    expect(call('cast_array', ctx, new Set([2, 1]))).toEqual([1, 2]);
    expect(call('cast_set', ctx, [1, 1, 2])).toEqual(new Set([1, 2]));
    expect(call('cast_string', ctx, 's')).toBe('s');
    expect(() => call('cast_boolean', ctx, 'true')).toThrow('operand 1 must be boolean but got string');
    expect(() => call('cast_object', ctx, [])).toThrow();
    expect(call('cast_null', ctx, null)).toBe(null);
  });
});

describe('gatehouse\'s size guards', () => {
  it('refuse expansions and ranges beyond their limits', () => {
    const ctx = testContext();
    expect((call('net.cidr_expand', ctx, '10.0.0.0/16') as Set<string>).size).toBe(65_536);
    expect(() => call('net.cidr_expand', ctx, '10.0.0.0/15')).toThrow('more than 65536 addresses');
    expect(() => call('numbers.range_step', ctx, 0, 10_000_000, 1)).toThrow('more than 1000000 numbers');
    expect(() => call('units.parse', ctx, '1e5000')).toThrow('too large');
    const diamond: Record<string, RegoValue> = {};
    for (let i = 0; i < 20; i++) diamond[`n${i}`] = [`a${i}`, `b${i}`];
    for (let i = 0; i < 20; i++) diamond[`a${i}`] = diamond[`b${i}`] = [`n${i + 1}`];
    expect(() => call('graph.reachable_paths', ctx, diamond, ['n0'])).toThrow('paths');
  });
});

describe('value order', () => {
  it('follows OPA: null < booleans < numbers < strings < arrays < objects < sets', () => {
    const sorted: RegoValue[] = [null, false, true, -1, 2n ** 60n, 'a', 'é', '😀', [1], [1, 2], { a: 1 }, new Set([1])];
    const shuffled = [...sorted].reverse();
    expect(shuffled.sort(compareValues)).toEqual(sorted);
    expect(regoEqual(1, 1.0)).toBe(true);
    expect(regoEqual(2n ** 60n, 2 ** 60)).toBe(true);
    expect(regoEqual(new Set([1, 2]), new Set([2, 1]))).toBe(true);
    expect(valueKey({ a: new Set([2, 1]) })).toBe(valueKey({ a: new Set([1, 2]) }));
    const set = new ValueSet();
    set.add([1, { b: 2 }]);
    set.add([1, { b: 2 }]);
    expect(set.size).toBe(1);
  });

  it('orders strings by UTF-8 bytes (U+FFFD before U+1F600), not UTF-16 units', () => {
    expect(compareValues('\ufffd', '😀')).toBe(-1);
  });
});

describe('yaml.unmarshal', () => {
  it('refuses a document whose aliases expand beyond 100000 nodes (a "billion laughs")', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 6; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
    expect(() => call('yaml.unmarshal', testContext(), lines.join('\n'))).toThrow('excessive aliasing');
    // one level fewer (10^5 leaves plus their lists) is just over; 10^4 decodes
    expect((call('yaml.unmarshal', testContext(), lines.slice(0, 4).join('\n')) as Record<string, RegoValue[]>).d!.length).toBe(10);
  });
});

describe('net.cidr_merge', () => {
  it('is an error where OPA panics: merging IPv4-mapped IPv6 networks', () => {
    expect(() => call('net.cidr_merge', testContext(), ['::ffff:10.0.0.0/120', '::ffff:10.0.0.128/121'])).toThrow('different lengths');
    expect(call('net.cidr_merge', testContext(), ['::ffff:10.0.0.0/120'])).toEqual(new Set(['10.0.0.0/24']));
  });
});

describe('json.patch', () => {
  const doc = (): RegoValue => ({ a: { b: [1, 2, { c: 3 }], s: new Set(['x', 'y']) }, n: null }) as unknown as RegoValue;
  it('is an error where OPA\'s edit tree panics', () => {
    const panicking = [
      [{ op: 'move', path: '/a/b/-', from: '/a/s/x' }, { op: 'remove', path: '/a/s/y' }, { op: 'move', path: ['a', 'b'], from: '/a/s/y' }],
      [{ op: 'add', path: ['a', 'new'], value: 'y' }, { op: 'move', path: '/a/b/2', from: '/a/b/2/c' }, { op: 'move', path: '/a/b/1', from: '/a/b/1' }],
      [{ op: 'remove', path: ['a', 's', 'x'] }, { op: 'test', path: ['a', 's', 'x'], value: { k: 'v' } }],
    ];
    for (const ops of panicking) expect(() => call('json.patch', testContext(), doc(), ops as unknown as RegoValue)).toThrow();
    // removing the whole document: undefined
    expect(call('json.patch', testContext(), doc(), [{ op: 'remove', path: '' }] as unknown as RegoValue)).toBeUndefined();
  });

  it('edits what was the original element where OPA does (an index not edited before)', () => {
    const ops = [{ op: 'add', path: '/a/b/0', value: null }, { op: 'replace', path: '/a/b/2/c', value: 'v' }] as unknown as RegoValue;
    const out = call('json.patch', testContext(), doc(), ops) as { a: { b: RegoValue[] } };
    expect(out.a.b).toEqual([null, 1, { c: 'v' }, { c: 3 }]);
  });
});
