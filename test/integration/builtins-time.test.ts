/**
 * time.* host builtins against `opa eval`: instants around DST transitions (New York, London, Lord
 * Howe's half-hour shift), leap years, the epoch, negative and far-future times (ns beyond 2^53, the
 * int64 limits), every Go layout element in time.format and time.parse_ns, Go durations with OPA's
 * d/w/y units, add_date and diff normalisation, and the error cases (which are undefined in both).
 * One opa eval and one Wasm evaluation for all cases.
 */
import { describe, expect, it } from 'vitest';
import { differences, evaluateBoth, type BuiltinCase } from '../support/builtin-oracle.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

const S = 1_000_000_000n;
const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;
const utc = (iso: string): bigint => BigInt(Date.parse(iso)) * 1_000_000n;

/** Instants (ns) chosen around the calendar's and the zones' edges. */
const INSTANTS: bigint[] = [
  0n, 1n, -1n, 999_999_999n, -1_000_000_001n, 86_399n * S, -86_400n * S,
  MIN_INT64, MAX_INT64, MIN_INT64 + 1n, MAX_INT64 - 1n,
  utc('2021-03-14T06:59:59Z'), utc('2021-03-14T07:00:00Z'), utc('2021-11-07T05:30:00Z'), utc('2021-11-07T06:30:00Z'), // New York
  utc('2021-03-28T00:59:59Z'), utc('2021-03-28T01:00:00Z'), utc('2021-10-31T00:30:00Z'), utc('2021-10-31T01:30:00Z'), // London
  utc('2021-04-03T14:59:59Z'), utc('2021-04-03T15:00:00Z'), utc('2021-10-02T15:30:00Z'), utc('2021-10-02T16:00:00Z'), // Lord Howe
  utc('2000-02-29T12:00:00Z'), utc('1900-02-28T23:59:59Z'), utc('1900-03-01T00:00:00Z'), utc('2100-02-28T23:59:59Z'), utc('2100-03-01T00:00:00Z'),
  utc('2020-02-29T23:00:00Z'), utc('2024-12-31T23:59:59Z') + 123_456_789n, utc('1969-12-31T23:59:59Z') + 500_000_000n,
  utc('1883-11-18T16:00:00Z'), utc('1700-06-15T10:11:12Z') + 7n, utc('2200-07-04T03:04:05Z') + 100_000_000n, utc('2262-04-11T00:00:00Z'),
  1_670_006_453_141_828_752n, 1_517_832_000_000_000_000n, 1_136_239_445_000_000_000n,
];

const ZONES = [
  '', 'UTC', 'Local', 'America/New_York', 'Europe/London', 'Australia/Lord_Howe', 'Asia/Kolkata', 'America/Sao_Paulo', 'Pacific/Chatham', 'Etc/GMT+5',
  'Asia/Kathmandu', 'America/St_Johns', 'Africa/Casablanca', 'EST5EDT', 'Antarctica/Troll', 'Europe/Dublin', 'Factory', 'posixrules', 'localtime',
  'right/America/New_York', 'posix/Europe/London', 'zone.tab', 'leap-seconds.list', 'Etc', 'UTC ', 'Etc/UTC',
];

const ELEMENTS = [
  'Mon', 'Monday', 'Jan', 'January', '01', '1', '_2', '02', '2', '__2', '002', '15', '3', '03', '4', '04', '5', '05', '2006', '06',
  'PM', 'pm', 'MST', 'Z0700', 'Z07:00', 'Z07', 'Z070000', 'Z07:00:00', '-07', '-0700', '-07:00', '-070000', '-07:00:00',
  '.000', '.999999999', ',000', '.9', '.0', '.000000000000', ',999', '_2006', 'Month', 'Janx', 'é2006ü',
];

const NAMED = ['ANSIC', 'UnixDate', 'RubyDate', 'RFC822', 'RFC822Z', 'RFC850', 'RFC1123', 'RFC1123Z', 'RFC3339', 'RFC3339Nano', 'Kitchen', ''];

function formatCases(): BuiltinCase[] {
  const out: BuiltinCase[] = [];
  const layouts = [...ELEMENTS, ...NAMED, '2006-01-02T15:04:05.000Z07:00 MST Monday __2', 'Mon Jan _2 15:04:05.000000 -07:00:00 2006'];
  for (const ns of INSTANTS) {
    out.push({ builtin: 'time.format', args: [ns] });
    for (const zone of ZONES) out.push({ builtin: 'time.format', args: [[ns, zone, 'Monday 2006-01-02 15:04:05.999999999 MST Z07:00:00 002']] });
  }
  for (const layout of layouts) {
    for (const ns of INSTANTS.slice(0, 24)) out.push({ builtin: 'time.format', args: [[ns, 'Australia/Lord_Howe', layout]] });
    out.push({ builtin: 'time.format', args: [[utc('2009-11-10T23:04:05Z') + 120_000_000n, 'Asia/Kolkata', layout]] });
  }
  return out;
}

function calendarCases(): BuiltinCase[] {
  const out: BuiltinCase[] = [];
  for (const ns of INSTANTS) {
    for (const zone of ZONES) {
      for (const builtin of ['time.date', 'time.clock', 'time.weekday']) out.push({ builtin, args: [[ns, zone]] });
    }
    for (const builtin of ['time.date', 'time.clock', 'time.weekday']) out.push({ builtin, args: [ns] });
  }
  const deltas: [number, number, number][] = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, -1, -1], [0, 1, 30], [0, -13, 400], [4, 0, 0], [-100, 0, 0], [0, 0, -36500], [2262, 1, 1], [0, 0, 1e6]];
  for (const ns of INSTANTS) {
    for (const zone of ['', 'America/New_York', 'Europe/London', 'Australia/Lord_Howe']) {
      for (const [y, m, d] of deltas) out.push({ builtin: 'time.add_date', args: [[ns, zone], y, m, d] });
    }
  }
  // Adding a day from either side of a transition lands in the skipped or the repeated hour: Go's
  // Date picks an offset there, and so must we.
  const transitions: [string, string][] = [
    ['America/New_York', '2021-03-14T07:00:00Z'], ['America/New_York', '2021-11-07T06:00:00Z'], ['Europe/London', '2021-03-28T01:00:00Z'],
    ['Europe/London', '2021-10-31T01:00:00Z'], ['Australia/Lord_Howe', '2021-10-02T15:30:00Z'], ['Australia/Lord_Howe', '2021-04-03T15:00:00Z'],
    ['Europe/Dublin', '2021-10-31T01:00:00Z'], ['Pacific/Chatham', '2021-09-25T14:00:00Z'], ['America/St_Johns', '2021-03-14T05:30:00Z'],
  ];
  for (const [zone, at] of transitions) {
    for (let minutes = -26 * 60; minutes <= 26 * 60; minutes += 15) {
      if (Math.abs(minutes) < 22 * 60) continue;
      out.push({ builtin: 'time.add_date', args: [[utc(at) + BigInt(minutes) * 60n * S, zone], 0, 0, minutes < 0 ? 1 : -1] });
    }
  }
  out.push({ builtin: 'time.add_date', args: [utc('2021-01-31T00:00:00Z'), 0, 1, 0] });
  out.push({ builtin: 'time.add_date', args: [0, 9_223_372_036_854_775_807n, 0, 0] });
  out.push({ builtin: 'time.add_date', args: [0, 0, 9_223_372_036_854_775_807n, 0] });
  out.push({ builtin: 'time.add_date', args: [0, 0, 0, 1.5] });
  out.push({ builtin: 'time.add_date', args: [0, 0, 0, 9_223_372_036_854_775_808n] });
  const pairs = INSTANTS.slice(0, 30);
  for (let i = 0; i < pairs.length; i++) {
    for (let j = 0; j < pairs.length; j += 3) {
      out.push({ builtin: 'time.diff', args: [pairs[i]!, pairs[j]!] });
      out.push({ builtin: 'time.diff', args: [[pairs[i]!, 'America/New_York'], [pairs[j]!, 'Asia/Shanghai']] });
    }
  }
  out.push({ builtin: 'time.diff', args: [utc('2020-01-31T00:00:00Z'), utc('2020-03-01T00:00:00Z')] });
  out.push({ builtin: 'time.diff', args: [[utc('2021-03-14T06:00:00Z'), 'America/New_York'], [utc('2021-03-14T08:00:00Z'), 'America/New_York']] });
  return out;
}

function parseCases(): BuiltinCase[] {
  const out: BuiltinCase[] = [];
  const rfc3339 = [
    '2017-06-02T19:00:00-07:00', '1970-01-01T00:00:00Z', '1970-01-01T00:00:00z', '1677-09-21T00:12:43.145224192-00:00', '1677-09-21T00:12:43.145224191-00:00',
    '2262-04-11T23:47:16.854775807-00:00', '2262-04-11T23:47:16.854775808-00:00', '2020-02-29T12:00:00+05:30', '2021-02-29T12:00:00Z', '2016-12-31T23:59:60Z',
    '2006-01-02T15:04:05,123Z', '2006-01-02T15:04:05.1234567891234Z', '2006-01-02T15:04:05+24:00', '2006-01-02T15:04:05+23:60', '2006-01-02T15:04:05+2300',
    '2006-01-02T15:04:05', '2006-1-02T15:04:05Z', '2006-01-02 15:04:05Z', ' 2006-01-02T15:04:05Z', '2006-01-02T15:04:05Z ', '0000-01-01T00:00:00Z',
    '9999-12-31T23:59:59Z', '1900-02-29T00:00:00Z', '2000-02-29T00:00:00Z', '2006-01-02T24:00:00Z', '2006-01-02T15:04:05-00:00:01', '',
  ];
  for (const value of rfc3339) out.push({ builtin: 'time.parse_rfc3339_ns', args: [value] });
  const pairs: [string, string][] = [
    ['2006-01-02T15:04:05Z07:00', '2017-06-02T19:00:00-07:00'],
    ["01/02 03:04:05PM '06 -0700", "06/02 07:00:00PM '17 -0700"],
    ['02 Jan 06 15:04 -0700', '02 Jun 17 19:00 -0700'],
    ['RFC822Z', '02 Jun 17 19:00 -0700'],
    ['RFC822', '02 Jun 17 19:00 PST'], ['RFC822', '02 Jun 17 19:00 UTC'], ['RFC822', '02 Jun 17 19:00 GMT+3'], ['RFC822', '02 Jun 17 19:00 ChST'],
    ['RFC822', '02 Jun 17 19:00 +03'], ['RFC822', '02 Jun 17 19:00 WITA'], ['RFC822', '02 Jun 17 19:00 ABCDT'], ['RFC822', '02 Jun 17 19:00 AB'],
    ['RFC1123', 'Mon, 02 Jan 2006 15:04:05 MST'], ['RFC1123', 'mon, 02 JAN 2006 15:04:05 MST'], ['RFC1123', 'Mon, 2 Jan 2006 15:04:05 MST'],
    ['RFC1123Z', 'Tue, 10 Nov 2009 23:00:00 +0530'], ['RFC850', 'Monday, 02-Jan-06 15:04:05 MST'], ['ANSIC', 'Mon Jan  2 15:04:05 2006'],
    ['ANSIC', 'Mon Jan 2 15:04:05 2006'], ['UnixDate', 'Sat Mar  7 11:06:39 PST 2015'], ['RubyDate', 'Thu Feb 04 21:00:57 -0800 2010'],
    ['RFC3339Nano', '2006-01-02T15:04:05.999999999+01:00'], ['Kitchen', '3:04PM'],
    ['2006-01-02', '2020-02-29'], ['2006-01-02', '2021-02-29'], ['2006-01-02', '1900-02-29'], ['2006-01-02', '2100-02-28'], ['2006-01-02', '10000-01-01'],
    ['2006-002', '2020-060'], ['2006-002', '2020-366'], ['2006-002', '2021-366'], ['2006-__2', '2021-  5'], ['2006-01-02 002', '2020-02-29 060'], ['2006-01-02 002', '2020-03-01 060'],
    ['3:04pm', '12:30am'], ['3:04PM', '12:30PM'], ['03:04PM', '1:30PM'], ['15:04', '24:00'], ['15:04:05', '23:59:60'], ['15:04:05.000', '23:59:59.12'],
    ['15:04:05.000', '23:59:59.1234'], ['15:04:05,000', '23:59:59,123'], ['15:04:05.999', '23:59:59'], ['15:04:05.999', '23:59:59.123456789123'],
    ['15:04:05', '23:59:59.123'], ['15:04:05', '23:59:59,5'], ['15:04:05.000', '23:59:59.+12'], ['15:04:05.000', '23:59:59.-12'],
    ['06-01-02', '69-01-01'], ['06-01-02', '68-12-31'], ['06-01-02', '+1-01-01'], ['2006-1-2', '2006-12-31'], ['2006-1-2', '2006-13-01'],
    ['Jan 2 2006', 'February 3 2006'], ['January 2 2006', 'Feb 3 2006'], ['January 2 2006', 'february 3 2006'], ['Monday Jan 2 2006', 'Sunday Jan 2 2006'],
    ['2006-01-02   15:04', '2006-01-02 15:04'], ['2006-01-02 15:04', '2006-01-02     15:04'], ['2006-01-02 -0700', '2006-01-02 +2500'], ['2006-01-02 -07', '2006-01-02 -05'],
    ['2006-01-02 Z07', '2006-01-02 Z'], ['2006-01-02 -070000', '2006-01-02 -053045'], ['2006-01-02 -07:00:00', '2006-01-02 +05:30:45'],
    ['2006-01-02 Z070000', '2006-01-02 Z'], ['2006-01-02 Z0700', '2006-01-02 x0100'], ['2006-01-02 MST', '2006-01-02 EST'], ['2006-01-02 MST', '2006-01-02 CEST'],
    ['2006-01-02 MST -0700', '2006-01-02 EST -0500'], ['2006é01ü02', '2020é05ü06'], ['_2006', '_2020'], ['2006', '20x0'], ['', ''], ['', 'x'],
    ['2006-01-02T15:04:05Z07:00', '1677-09-21T00:12:43.145224191-00:00'], ['2006-01-02T15:04:05Z07:00', '2262-04-11T23:47:16.854775808-00:00'],
    ['2006-01-02 -07:00', '2006-01-02 -00:00'], ['2006-01-02 15:04 -07:00', '2006-01-02 15:04 -00:01'],
    ['2006-01-02 -07:00:00', '2006-01-02 -00:00:01'], ['2006-01-02 -07:00:00', '2006-01-02 -00:00:02'], ['2006-01-02 -070000', '2006-01-02 +000060'],
  ];
  for (const [layout, value] of pairs) out.push({ builtin: 'time.parse_ns', args: [layout, value] });
  return out;
}

function durationCases(): BuiltinCase[] {
  const texts = [
    '100ms', '0', '-0', '+0', '', '1', '1h', '1.5h', '-1.5h', '2h45m', '300ms', '1us', '1µs', '1μs', '1ns', '.5s', '5.s', '.s', '1.2.3s', '1e3s',
    '9223372036854775807ns', '9223372036854775808ns', '-9223372036854775808ns', '-9223372036854775809ns', '2562047h47m16.854775807s', '2562048h',
    '0.000000001s', '0.0000000001s', '1.00000000000000000000000001h', '12345678901234567890ns', '1h1h', '1H', '1 h', ' 1h', '1d', '1.5d', '-2w', '+1y',
    '1d2h30m', '1y1w1d1h1m1s1ms1us1ns', '1.d', '.5d', '1.2.3d', 'd', '1dd', '1x', '1d1x', '1d μs', '1d1μs', '1d1µs', '106752d', '106751d23h47m16.854775807s',
    '300000y', '1.0000000000000002d', '0.1d', '1e2d', '--1d', '-1d-1h', '١d', '1D', '1W', '1d ',
  ];
  return texts.map((t) => ({ builtin: 'time.parse_duration_ns', args: [t] }));
}

function argumentCases(): BuiltinCase[] {
  const bad: unknown[] = [1.5, 1e18, 9.3e18, -9.3e18, 12345678901234567890n, '1', null, true, [], ['1'], [1, 2], [1, 'Nowhere/City'], [1, 'america/new_york'],
    [1, '../etc/passwd'], [1, '/etc/localtime'], [1, 'America'], [1, '+05:30'], [1, 'UTC', 5], [1, 'Asia/Kolkata', 'RFC1123', 'extra'], [0.5, 'UTC'], [1e18, 'UTC']];
  const out: BuiltinCase[] = [];
  for (const arg of bad) {
    for (const builtin of ['time.date', 'time.clock', 'time.weekday', 'time.format']) out.push({ builtin, args: [arg as never] });
    out.push({ builtin: 'time.add_date', args: [arg as never, 0, 0, 0] });
    out.push({ builtin: 'time.diff', args: [arg as never, 0] });
  }
  out.push({ builtin: 'time.parse_ns', args: [1, '2006'] }, { builtin: 'time.parse_rfc3339_ns', args: [1] }, { builtin: 'time.parse_duration_ns', args: [1] });
  return out;
}

describe.skipIf(tool.skip)('time builtins match opa eval', () => {
  it('formats with every Go layout element, in every kind of zone, exactly as OPA', () => {
    const all = formatCases();
    const both = evaluateBoth(tool.opa, all);
    expect(differences(all, both)).toEqual([]);
    expect(both.opa.filter((v) => v !== undefined).length).toBeGreaterThan(all.length * 0.9);
  }, 60_000);

  it('reads dates, clocks and weekdays, adds dates and diffs times exactly as OPA', () => {
    const all = calendarCases();
    const both = evaluateBoth(tool.opa, all);
    expect(differences(all, both)).toEqual([]);
    expect(both.opa.filter((v) => v !== undefined).length).toBeGreaterThan(all.length * 0.8);
    expect(both.opa.some((v) => v === undefined)).toBe(true);
  }, 60_000);

  it('parses times and durations, and refuses bad arguments, exactly as OPA', () => {
    const all = [...parseCases(), ...durationCases(), ...argumentCases()];
    const both = evaluateBoth(tool.opa, all);
    expect(differences(all, both)).toEqual([]);
    expect(both.opa.filter((v) => v !== undefined).length).toBeGreaterThan(100);
    expect(both.opa.filter((v) => v === undefined).length).toBeGreaterThan(100);
  }, 60_000);
});
