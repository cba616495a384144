/** RecentRunaways: a cache key that hit eval_timeout is remembered for its TTL, within a bounded count. */
import { describe, expect, it } from 'vitest';
import { RecentRunaways } from '../../src/authz/recent-runaways.js';

describe('RecentRunaways', () => {
  it('remembers a key for its TTL only', () => {
    let now = 0;
    const runaways = new RecentRunaways(() => now, 5000, 10);
    expect(runaways.has('a')).toBe(false);
    runaways.add('a');
    now = 4999;
    expect(runaways.has('a')).toBe(true);
    now = 5000;
    expect(runaways.has('a')).toBe(false);
    expect(runaways.size).toBe(0);
  });

  it('forgets the oldest key past its bound; adding again renews a key', () => {
    let now = 0;
    const runaways = new RecentRunaways(() => now, 5000, 2);
    runaways.add('a');
    runaways.add('b');
    runaways.add('a'); // renewed: now the newest
    runaways.add('c');
    expect([runaways.has('a'), runaways.has('b'), runaways.has('c')]).toEqual([true, false, true]);
    now = 10;
    expect(runaways.size).toBe(2);
  });
});
