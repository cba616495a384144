import { describe, expect, it } from 'vitest';
import { pollDelayMs } from '../../src/policy/http-source.js';

describe('bundle server polling', () => {
  it('waits a jittered interval between min and max while all is well', () => {
    expect(pollDelayMs(0, 10_000, 20_000, 0)).toBe(10_000);
    expect(pollDelayMs(0, 10_000, 20_000, 0.5)).toBe(15_000);
    expect(pollDelayMs(0, 10_000, 20_000, 0.999)).toBeLessThan(20_000);
  });

  it('doubles the wait for every consecutive failure, up to 32 times the maximum', () => {
    const waits = [1, 2, 3, 4].map((failures) => pollDelayMs(failures, 10_000, 20_000, 0));
    expect(waits).toEqual([20_000, 40_000, 80_000, 160_000]);
    expect(pollDelayMs(20, 10_000, 20_000, 1)).toBe(640_000);
  });
});
