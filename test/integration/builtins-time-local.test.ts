/**
 * time.* with a non-UTC local zone: both gatehouse and `opa eval` (a child process, same
 * environment) run with TZ=America/New_York, so `[ns, "Local"]` is New York time and time.parse_ns
 * reads the abbreviations that zone defines (EST, EDT, even the historical EWT and LMT) with their
 * offsets, and any other abbreviation as UTC.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { differences, evaluateBoth, type BuiltinCase } from '../support/builtin-oracle.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

beforeAll(() => {
  // Before the first time builtin reads it (the local zone is resolved once per process, as in Go).
  process.env.TZ = 'America/New_York';
});

describe.skipIf(tool.skip)('time builtins with TZ=America/New_York match opa eval', () => {
  it('formats Local times and reads local zone abbreviations exactly as OPA', () => {
    const all: BuiltinCase[] = [];
    for (const ns of [0n, 1_615_705_200_000_000_000n, 1_636_264_800_000_000_000n, -2_717_650_800_000_000_000n, -800_000_000_000_000_000n]) {
      all.push({ builtin: 'time.format', args: [[ns, 'Local', 'Mon Jan _2 15:04:05 MST -07:00 2006']] });
      all.push({ builtin: 'time.clock', args: [[ns, 'Local']] });
      all.push({ builtin: 'time.add_date', args: [[ns, 'Local'], 0, 6, 0] });
    }
    const values = [
      '02 Jan 06 15:04 EST', '02 Jul 06 15:04 EST', '02 Jul 06 15:04 EDT', '02 Jan 06 15:04 EDT', '02 Jan 06 15:04 PST', '02 Jan 06 15:04 UTC',
      '02 Jan 06 15:04 GMT', '02 Jan 06 15:04 GMT-5', '02 Jan 80 15:04 LMT', '02 Jan 43 15:04 EWT', '02 Jan 45 15:04 EPT', '02 Jan 06 15:04 CET',
    ];
    for (const value of values) all.push({ builtin: 'time.parse_ns', args: ['RFC822', value] });
    all.push({ builtin: 'time.parse_ns', args: ['2006-01-02 15:04 MST -0700', '2021-03-14 12:00 EDT -0400'] });
    all.push({ builtin: 'time.parse_ns', args: ['2006-01-02 15:04 MST -0700', '2021-03-14 12:00 EST -0400'] });
    all.push({ builtin: 'time.parse_rfc3339_ns', args: ['2021-03-14T12:00:00-04:00'] });
    const both = evaluateBoth(tool.opa, all);
    expect(differences(all, both)).toEqual([]);
    expect(both.opa.every((v) => v !== undefined)).toBe(true);
    // The local zone took part: EST is five hours behind UTC here, not zero as on a UTC machine.
    expect(both.gatehouse[all.findIndex((c) => c.args[1] === '02 Jan 06 15:04 EST')]).toBe(1_136_232_240_000_000_000n);
  }, 60_000);
});
