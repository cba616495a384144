import { describe, expect, it } from 'vitest';
import { BoundedMemo } from '../../src/policy/builtins/bounded-memo.js';

describe('BoundedMemo', () => {
  it('computes once per key and evicts the oldest past the entry bound', () => {
    const memo = new BoundedMemo<number>(2, 1000);
    let made = 0;
    const make = () => ++made;
    expect(memo.get('a', make)).toBe(1);
    expect(memo.get('a', make)).toBe(1);
    memo.get('b', make);
    memo.get('c', make);
    expect(memo.size).toBe(2);
    expect(memo.get('a', make)).toBe(4);
  });

  it('bounds the total key length and never keeps a key over an eighth of it', () => {
    const memo = new BoundedMemo<string>(100, 800);
    for (let i = 0; i < 50; i++) memo.get(`${i}`.padEnd(90, 'x'), () => 'v');
    expect(memo.size).toBeLessThanOrEqual(8);
    let made = 0;
    memo.get('y'.repeat(101), () => String(++made));
    memo.get('y'.repeat(101), () => String(++made));
    expect(made).toBe(2);
  });

  it('does not remember a failure', () => {
    const memo = new BoundedMemo<number>(4);
    expect(() => memo.get('k', () => { throw new Error('bad'); })).toThrow('bad');
    expect(memo.get('k', () => 7)).toBe(7);
  });
});
