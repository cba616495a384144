/**
 * time.* host builtins called directly: OPA's own conformance expectations
 * (v1/test/cases/testdata/v1/time/*.yaml of OPA v1.19.1), the per-evaluation clock, exact
 * nanoseconds beyond 2^53, and the zone machinery underneath (TZif, POSIX TZ rules, the ICU
 * fallback, the bounded cache). Differential tests against opa eval are in test/integration.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { timeBuiltins } from '../../../src/policy/builtins/time.js';
import type { BuiltinContext, RegoValue } from '../../../src/policy/builtins/types.js';
import { TzifLocation } from '../../../src/policy/builtins/go-time-zone.js';
import { tzset } from '../../../src/policy/builtins/go-time-tzrule.js';
import { intlLocation, loadLocation, resolveLocalLocation, zoneCacheSize } from '../../../src/policy/builtins/go-time-zone-load.js';
import { TzifReader } from '../../../src/policy/builtins/go-time-tzif.js';

function context(now = 1_700_000_000_123_456_789n): BuiltinContext {
  return { nowNs: () => now, memo: new Map(), print: () => undefined, validUntilNs: () => undefined };
}

/** The builtin's result, or "error: …" for a throw (undefined in a policy). */
function call(name: string, ...args: RegoValue[]): RegoValue | string | undefined {
  try {
    return timeBuiltins[name]!.fn(context(), ...args);
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

describe('OPA v1.19.1 conformance expectations (testdata/v1/time)', () => {
  it('parses with layouts and named constants', () => {
    expect(call('time.parse_ns', '2006-01-02T15:04:05Z07:00', '2017-06-02T19:00:00-07:00')).toBe(1496455200000000000n);
    expect(call('time.parse_ns', '2006-01-02T15:04:05Z07:00', '1677-09-21T00:12:43.145224192-00:00')).toBe(-9223372036854775808n);
    expect(call('time.parse_ns', '2006-01-02T15:04:05Z07:00', '2262-04-11T23:47:16.854775807-00:00')).toBe(9223372036854775807n);
    expect(call('time.parse_ns', "01/02 03:04:05PM '06 -0700", "06/02 07:00:00PM '17 -0700")).toBe(1496455200000000000n);
    expect(call('time.parse_ns', '02 Jan 06 15:04 -0700', '02 Jun 17 19:00 -0700')).toBe(1496455200000000000n);
    expect(call('time.parse_ns', 'RFC822Z', '02 Jun 17 19:00 -0700')).toBe(1496455200000000000n);
    expect(call('time.parse_ns', '2006-01-02T15:04:05Z07:00', '1677-09-21T00:12:43.145224191-00:00')).toBe('error: time.parse_ns: time outside of valid range');
    expect(call('time.parse_ns', '2006-01-02T15:04:05Z07:00', '2262-04-11T23:47:16.854775808-00:00')).toBe('error: time.parse_ns: time outside of valid range');
  });

  it('parses RFC 3339', () => {
    expect(call('time.parse_rfc3339_ns', '1677-09-21T00:12:43.145224192-00:00')).toBe(-9223372036854775808n);
    expect(call('time.parse_rfc3339_ns', '1970-01-01T00:00:00-00:00')).toBe(0);
    expect(call('time.parse_rfc3339_ns', '2017-06-02T19:00:00-07:00')).toBe(1496455200000000000n);
    expect(call('time.parse_rfc3339_ns', '2262-04-11T23:47:16.854775807-00:00')).toBe(9223372036854775807n);
    expect(call('time.parse_rfc3339_ns', '2262-04-11T23:47:16.854775808-00:00')).toBe('error: time.parse_rfc3339_ns: time outside of valid range');
  });

  it('parses durations', () => {
    expect(call('time.parse_duration_ns', '100ms')).toBe(100000000);
  });

  it('reads dates, clocks and weekdays, in zones too', () => {
    expect(call('time.date', 1517814000n * 1_000_000_000n)).toEqual([2018, 2, 5]);
    expect(call('time.date', [1517814000n * 1_000_000_000n, 'America/Los_Angeles'])).toEqual([2018, 2, 4]);
    expect(call('time.date', [1517832000n * 1_000_000_000n, ''])).toEqual([2018, 2, 5]);
    expect(call('time.date', 1582977600n * 1_000_000_000n)).toEqual([2020, 2, 29]);
    expect(call('time.date', 1582977600n * 1_000_000_000_000n)).toBe('error: time.date: timestamp too big');
    expect(call('time.clock', 1517832000n * 1_000_000_000n)).toEqual([12, 0, 0]);
    expect(call('time.clock', [1517832000n * 1_000_000_000n, 'America/New_York'])).toEqual([7, 0, 0]);
    expect(call('time.clock', 1582977600n * 1_000_000_000n)).toEqual([12, 0, 0]);
    expect(call('time.clock', 1582977600n * 1_000_000_000_000n)).toBe('error: time.clock: timestamp too big');
    const days = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
    days.forEach((day, i) => expect(call('time.weekday', 1517832000000000000n + BigInt(i) * 86400_000_000_000n)).toBe(day));
    expect(call('time.weekday', 1582977600n * 1_000_000_000_000n)).toBe('error: time.weekday: timestamp too big');
  });

  it('adds dates, with the range check', () => {
    expect(call('time.add_date', 1585852421593912000n, 3, 9, 12)).toBe(1705257221593912000n);
    expect(call('time.add_date', 1585852421593912000n, -1, -1, -1)).toBe(1551465221593912000n);
    expect(call('time.add_date', 0, 2262, 1, 1)).toBe('error: time.add_date: time outside of valid range');
    expect(call('time.add_date', -9223372036854775808n, 0, 0, -1)).toBe('error: time.add_date: time outside of valid range');
  });

  it('diffs times, across zones and leap years', () => {
    const now = 1_700_000_000_000_000_000n;
    const day = (s: string) => call('time.parse_ns', '2006-01-02', s) as RegoValue;
    expect(call('time.diff', now + 61_000_000_000n, now)).toEqual([0, 0, 0, 0, 1, 1]);
    expect(call('time.diff', [now + 60_000_000_000n, 'UTC'], [now, 'Asia/Shanghai'])).toEqual([0, 0, 0, 0, 1, 0]);
    expect(call('time.diff', day('2020-02-02'), day('2020-03-01'))).toEqual([0, 0, 28, 0, 0, 0]);
    expect(call('time.diff', day('2021-02-02'), day('2021-03-01'))).toEqual([0, 0, 27, 0, 0, 0]);
    expect(call('time.diff', day('2004-02-29'), day('2005-03-01'))).toEqual([1, 0, 1, 0, 0, 0]);
  });

  it('formats with defaults, zones, layouts and constants', () => {
    const ns = 1670006453141828752n;
    expect(call('time.format', ns)).toBe('2022-12-02T18:40:53.141828752Z');
    expect(call('time.format', [ns, 'Asia/Kolkata'])).toBe('2022-12-03T00:10:53.141828752+05:30');
    expect(call('time.format', [ns, 'Asia/Kolkata', 'Mon Jan 02 15:04:05 -0700 2006'])).toBe('Sat Dec 03 00:10:53 +0530 2022');
    expect(call('time.format', [ns, 'Asia/Kolkata', 'RFC1123Z'])).toBe('Sat, 03 Dec 2022 00:10:53 +0530');
    expect(call('time.format', 1582977600 * 10e12)).toBe('error: time.format: timestamp too big');
  });
});

describe('time.now_ns', () => {
  it('is the evaluation\'s clock, exact beyond 2^53, and marked nondeterministic', () => {
    const ctx = context(1_700_000_000_123_456_789n);
    expect(timeBuiltins['time.now_ns']!.fn(ctx)).toBe(1_700_000_000_123_456_789n);
    expect(timeBuiltins['time.now_ns']!.fn(ctx)).toBe(timeBuiltins['time.now_ns']!.fn(ctx));
    expect(timeBuiltins['time.now_ns']!.fn(context(5n))).toBe(5);
    expect(timeBuiltins['time.now_ns']!.nondeterministic).toBe(true);
    expect(Object.entries(timeBuiltins).filter(([, b]) => b.nondeterministic).map(([n]) => n)).toEqual(['time.now_ns']);
  });
});

describe('zones', () => {
  it('reads Lord Howe\'s half-hour daylight saving from its POSIX rule, both hemispheres\' order', () => {
    const rule = '<+1030>-10:30<+11>-11,M10.1.0,M4.1.0';
    expect(tzset(rule, Date.UTC(2030, 0, 15) / 1000)).toEqual({ name: '+11', offset: 39600, isDST: true });
    expect(tzset(rule, Date.UTC(2030, 6, 15) / 1000)).toEqual({ name: '+1030', offset: 37800, isDST: false });
    expect(tzset('EST5EDT', Date.UTC(2030, 6, 1) / 1000)).toEqual({ name: 'EDT', offset: -14400, isDST: true }); // default US rule
    expect(tzset('<-03>3', 0)).toEqual({ name: '-03', offset: -10800, isDST: false });
    for (const bad of ['', 'AB5', 'EST', 'EST5EDT,M13.1.0,M11.1.0', 'EST5EDT,M3.2.0', '<EST5']) expect(tzset(bad, 0)).toBeUndefined();
  });

  it('refuses malformed TZif data as Go does', () => {
    expect(new TzifReader(new TextEncoder().encode('TZif2')).read()).toBeUndefined();
    expect(new TzifReader(new TextEncoder().encode('NOPE' + '\0'.repeat(60))).read()).toBeUndefined();
    // A version 1 file with one zone ("ABC", +1h) and no transitions.
    const v1 = new Uint8Array([...new TextEncoder().encode('TZif'), ...new Array(16).fill(0),
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4,
      0, 0, 0x0e, 0x10, 0, 0, ...new TextEncoder().encode('ABC'), 0]);
    const location = TzifLocation.parse('Test/One', v1)!;
    expect(location.lookup(0)).toEqual({ name: 'ABC', offset: 3600, isDST: false });
    expect(location.lookupName('ABC', 0)).toBe(3600);
  });

  it('falls back to ICU with the same offsets as the zoneinfo files', () => {
    const zones = ['America/New_York', 'Europe/London', 'Australia/Lord_Howe', 'Asia/Kolkata', 'America/Sao_Paulo', 'Pacific/Chatham', 'Africa/Casablanca', 'Asia/Kathmandu'];
    const instants = [-2_000_000_000, -1_000_000, 0, 1_000_000_000, 1_616_893_200, 1_635_642_000, 1_700_000_000, 2_500_000_000, 8_000_000_000];
    for (const zone of zones) {
      const files = loadLocation(zone);
      const icu = intlLocation(zone)!;
      for (const sec of instants) expect([zone, sec, icu.lookup(sec).offset]).toEqual([zone, sec, files.lookup(sec).offset]);
    }
    expect(intlLocation('America/New_York')!.lookup(1_700_000_000).name).toBe('EST');
    expect(intlLocation('Asia/Kathmandu')!.lookup(1_700_000_000).name).toBe('+0545');
    expect(intlLocation('america/new_york')).toBeUndefined(); // zoneinfo names are case-sensitive
    expect(intlLocation('+05:30')).toBeUndefined();
  });

  it('resolves Local like Go (TZ, else /etc/localtime, else UTC) and keeps the zone cache bounded', () => {
    expect(resolveLocalLocation('').name).toBe('UTC');
    expect(resolveLocalLocation('UTC').name).toBe('UTC');
    expect(resolveLocalLocation(':Asia/Tokyo').lookup(0).offset).toBe(32400);
    if (existsSync('/usr/share/zoneinfo/Asia/Tokyo')) {
      expect(resolveLocalLocation('/usr/share/zoneinfo/Asia/Tokyo').lookup(0).offset).toBe(32400);
    }
    expect(resolveLocalLocation('No/Such_Zone').name).toBe('UTC');
    for (let i = 0; i < 600; i++) expect(() => loadLocation(`No/Such_Zone_${i}`)).toThrow(/unknown time zone/);
    expect(zoneCacheSize()).toBeLessThanOrEqual(256);
    expect(() => loadLocation('../etc/passwd')).toThrow('time: invalid location name');
  });
});
