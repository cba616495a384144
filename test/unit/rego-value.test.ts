/** The Rego value text format of the OPA Wasm ABI (opa_value_dump / opa_value_parse), both ways. */
import { describe, expect, it } from 'vitest';
import { formatRegoValue, parseJsonExact, parseRegoValue } from '../../src/policy/rego-value.js';

describe('parseRegoValue', () => {
  it('reads JSON, with objects free of prototypes', () => {
    const value = parseRegoValue('{"a": [1, 2.5, "x", null, true], "__proto__": {"polluted": 1}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBeNull();
    expect(Object.keys(value)).toEqual(['a', '__proto__']);
    expect(value.a).toEqual([1, 2.5, 'x', null, true]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reads sets, empty sets, and nested sets as JS Sets', () => {
    expect(parseRegoValue('{1, 2, "a"}')).toEqual(new Set([1, 2, 'a']));
    expect(parseRegoValue('set()')).toEqual(new Set());
    expect(parseRegoValue('{"a": set(), "b": {{1}, [set()]}}')).toEqual(
      Object.assign(Object.create(null), { a: new Set(), b: new Set([new Set([1]), [new Set()]]) }),
    );
    expect(parseRegoValue('{}')).toEqual(Object.create(null));
  });

  it('reads objects with non-string keys as Maps', () => {
    const value = parseRegoValue('{1: "x", "b": 2, [1]: 3}');
    expect(value).toBeInstanceOf(Map);
    expect([...(value as Map<unknown, unknown>).entries()]).toEqual([[1, 'x'], ['b', 2], [[1], 3]]);
  });

  it('keeps integers beyond 2^53 exact and leaves the others numbers', () => {
    expect(parseRegoValue('1732912345123456789')).toBe(1732912345123456789n);
    expect(parseRegoValue('[-9007199254740993, 9007199254740991, 1e300, 1.5]')).toEqual([-9007199254740993n, 9007199254740991, 1e300, 1.5]);
    expect(parseRegoValue('{"t": 12345678901234567890123, "s": {12345678901234567890}}')).toEqual(
      Object.assign(Object.create(null), { t: 12345678901234567890123n, s: new Set([12345678901234567890n]) }),
    );
  });

  it('decodes string escapes like JSON', () => {
    expect(parseRegoValue('{"\\u00e9\\n", "a\\"b"}')).toEqual(new Set(['é\n', 'a"b']));
  });

  it.each(['', '{1, 2', '{"a" 1}', '[1,]', 'sett()', '{1: }', '"unterminated', '01', '1 2'])('rejects %j', (text) => {
    expect(() => parseRegoValue(text)).toThrow(SyntaxError);
  });
});

describe('formatRegoValue', () => {
  it('writes sets, Maps, big integers and objects the way opa_value_parse reads them', () => {
    const value = Object.assign(Object.create(null), {
      set: new Set([1, 'a']),
      empty: new Set(),
      big: 1732912345123456789n,
      map: new Map<unknown, unknown>([[1, 'x']]),
      list: [null, true, 0.5],
    });
    const text = formatRegoValue(value);
    expect(text).toBe('{"set":{1,"a"},"empty":set(),"big":1732912345123456789,"map":{1:"x"},"list":[null,true,0.5]}');
    expect(parseRegoValue(text)).toEqual(value);
  });

  it('refuses values Rego has no form for', () => {
    expect(() => formatRegoValue(Number.NaN)).toThrow(TypeError);
    expect(() => formatRegoValue(Number.POSITIVE_INFINITY)).toThrow(TypeError);
    expect(() => formatRegoValue((() => 1) as never)).toThrow(TypeError);
  });
});

describe('parseJsonExact', () => {
  it('is JSON.parse for ordinary text and keeps long integers exact', () => {
    expect(parseJsonExact('[{"result": {"a": 1}}]')).toEqual([{ result: { a: 1 } }]);
    expect(parseJsonExact('[{"result": 1732912345123456789}]')).toEqual([{ result: 1732912345123456789n }]);
  });
});

