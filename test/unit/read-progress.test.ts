/** commands/progress.ts: a line on standard error every few seconds while learn or replay reads long logs. */
import { describe, expect, it } from 'vitest';
import { ReadProgress } from '../../src/commands/progress.js';

describe('ReadProgress', () => {
  it('writes one line per interval, by a fake clock, with the lines read and the file being read', () => {
    let now = 1_000;
    const written: string[] = [];
    const progress = new ReadProgress((t) => written.push(t), 'learn', 5_000, () => now);
    for (let i = 0; i < 10_000; i++) progress.line('week1.log');
    expect(written).toEqual([]); // under 5 s: silent
    now += 5_000;
    for (let i = 0; i < 10_000; i++) progress.line('week1.log');
    expect(written).toEqual(['gatehouse learn: 12,288 lines read so far (now in week1.log)\n']);
    for (let i = 0; i < 100_000; i++) progress.line('week2.log');
    expect(written).toHaveLength(1); // same instant: no second line
    now += 4_999;
    for (let i = 0; i < 8_192; i++) progress.line('week2.log');
    expect(written).toHaveLength(1);
    now += 1;
    for (let i = 0; i < 4_096; i++) progress.line('week2\u001b[2J.log');
    expect(written[1]).toBe('gatehouse learn: 131,072 lines read so far (now in week2\\u001b[2J.log)\n');
  });
});
