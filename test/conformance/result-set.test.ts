import { describe, expect, test } from 'vitest';
import { canonical, sameResultSet } from './result-set.js';

describe('conformance result-set comparison (as OPA\'s Wasm e2e test compares)', () => {
  test('rows are a set: order and repeats do not matter', () => {
    expect(sameResultSet([{ x: 1 }, { x: 2 }], [{ x: 2 }, { x: 1 }, { x: 2 }], false)).toBe('same');
    expect(sameResultSet([{ x: 1 }, { x: 2 }], [{ x: 1 }], false)).toBe('result differs');
    expect(sameResultSet([], [{ x: 1 }], false)).toBe('result differs');
  });

  test('numbers compare by value, big integers exactly', () => {
    expect(sameResultSet([{ x: 1 }], [{ x: 1n }], false)).toBe('same');
    expect(sameResultSet([{ x: 18446744073709551617n }], [{ x: 18446744073709551617n }], false)).toBe('same');
    expect(sameResultSet([{ x: 18446744073709551617n }], [{ x: 18446744073709551616n }], false)).toBe('big numbers');
    expect(sameResultSet([{ x: 0.5 }], [{ x: '0.5' }], false)).toBe('result differs');
  });

  test('object keys in any order; arrays in order unless sort_bindings', () => {
    expect(sameResultSet([{ x: { a: 1, b: [1, 2] } }], [{ x: { b: [1, 2], a: 1 } }], false)).toBe('same');
    expect(sameResultSet([{ x: [1, 2] }], [{ x: [2, 1] }], false)).toBe('order of a set or array');
    expect(sameResultSet([{ x: [1, 2] }], [{ x: [2, 1] }], true)).toBe('same');
    // sort_bindings sorts the binding itself, not arrays inside it (as OPA's test does)
    expect(sameResultSet([{ x: { y: [1, 2] } }], [{ x: { y: [2, 1] } }], true)).toBe('order of a set or array');
  });

  test('canonical text is stable', () => {
    expect(canonical({ b: [1.0, 'x', null], a: { d: true, c: 2n } })).toBe('{"a":{"c":2,"d":true},"b":[1,"x",null]}');
  });
});
