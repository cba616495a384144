/**
 * Go's time.Parse (go1.26 format.go, parse) for time.parse_ns and time.parse_rfc3339_ns: the same
 * elements, the same leniencies (a fractional second after seconds the layout does not mention,
 * runs of spaces, case-insensitive month and day names, "06" years 69..99 as 19xx) and the same
 * errors (no leap seconds, days checked against the month). A zone abbreviation moves the instant
 * only when the process's local zone knows it; otherwise Go records it with a zero offset (so "PST"
 * and "GMT+3" both read as UTC), and so does this.
 */
import { daysBefore, daysIn, goDate, isLeap } from './go-time-date.js';
import { digitsLen, fromBytes, isDigitAt, layoutChunks, LONG_DAY_NAMES, LONG_MONTH_NAMES, Std, STD_MASK, toBytes } from './go-time-layout.js';
import {
  atoi, BAD, type Bad, commaOrPeriod, getnum, getnum3, lookupName, parseNanoseconds, parseTimeZone, quote, readOffset, skip,
} from './go-time-parse-fields.js';
import { type Location, UTC } from './go-time-zone.js';

/** A value that does not match its layout (Go's *time.ParseError), with Go's message. */
export class GoParseError extends Error {}

const SHORT_DAYS = LONG_DAY_NAMES.map((d) => d.slice(0, 3));
const SHORT_MONTHS = LONG_MONTH_NAMES.map((m) => m.slice(0, 3));

const ZONE_STDS = new Set<number>([
  Std.ISO8601TZ, Std.ISO8601ShortTZ, Std.ISO8601ColonTZ, Std.ISO8601SecondsTZ, Std.ISO8601ColonSecondsTZ,
  Std.NumTZ, Std.NumShortTZ, Std.NumColonTZ, Std.NumSecondsTz, Std.NumColonSecondsTZ,
]);

/** Go's time.Parse(layout, value), as Unix seconds and nanoseconds. @throws GoParseError */
export function parseTime(layoutText: string, valueText: string, local: Location): { sec: bigint; nsec: number } {
  const alayout = toBytes(layoutText);
  const avalue = toBytes(valueText);
  const fail = (layoutElem: string, valueElem: string, message = ''): GoParseError =>
    new GoParseError(message === ''
      ? `parsing time ${quote(avalue)} as ${quote(alayout)}: cannot parse ${quote(valueElem)} as ${quote(layoutElem)}`
      : `parsing time ${quote(avalue)}${message}`);

  const chunks = layoutChunks(alayout);
  let value = avalue;
  let amSet = false;
  let pmSet = false;
  let year = 0;
  let month = -1;
  let day = -1;
  let yday = -1;
  let hour = 0;
  let min = 0;
  let sec = 0;
  let nsec = 0;
  let utc = false;
  let zoneOffset = -1;
  let zoneName = '';

  for (let index = 0; ; index++) {
    const { prefix, std, text: stdstr } = chunks[index]!;
    const skipped = skip(value, prefix);
    if (skipped === BAD) throw fail(prefix, value);
    value = skipped;
    if (std === 0) {
      if (value.length !== 0) throw fail('', value, `: extra text: ${quote(value)}`);
      break;
    }
    const hold = value;
    let rangeErr = '';
    let bad = false;
    /** Take a [number, rest] reading; false if it failed. */
    const take = (r: [number, string] | Bad): number => {
      if (r === BAD) {
        bad = true;
        return 0;
      }
      value = r[1];
      return r[0];
    };
    const nanos = (n: number): void => {
      const r = parseNanoseconds(value, n);
      if (r === BAD) bad = true;
      else {
        nsec = r.ns;
        rangeErr = r.range ?? '';
      }
      value = value.slice(n);
    };
    const code = std & STD_MASK;
    switch (code) {
      case Std.Year: {
        if (value.length < 2) {
          bad = true;
          break;
        }
        const y = atoi(value.slice(0, 2));
        value = value.slice(2);
        if (y === BAD) bad = true;
        else year = y >= 69 ? y + 1900 : y + 2000;
        break;
      }
      case Std.LongYear: {
        if (value.length < 4 || !isDigitAt(value, 0)) {
          bad = true;
          break;
        }
        const y = atoi(value.slice(0, 4));
        value = value.slice(4);
        if (y === BAD) bad = true;
        else year = y;
        break;
      }
      case Std.Month:
        month = take(lookupName(SHORT_MONTHS, value)) + 1;
        break;
      case Std.LongMonth:
        month = take(lookupName(LONG_MONTH_NAMES, value)) + 1;
        break;
      case Std.NumMonth:
      case Std.ZeroMonth:
        month = take(getnum(value, code === Std.ZeroMonth));
        if (!bad && (month <= 0 || month > 12)) rangeErr = 'month';
        break;
      case Std.WeekDay:
        take(lookupName(SHORT_DAYS, value));
        break;
      case Std.LongWeekDay:
        take(lookupName(LONG_DAY_NAMES, value));
        break;
      case Std.Day:
      case Std.UnderDay:
      case Std.ZeroDay:
        if (code === Std.UnderDay && value[0] === ' ') value = value.slice(1);
        day = take(getnum(value, code === Std.ZeroDay));
        break;
      case Std.UnderYearDay:
      case Std.ZeroYearDay:
        for (let i = 0; i < 2; i++) if (code === Std.UnderYearDay && value[0] === ' ') value = value.slice(1);
        yday = take(getnum3(value, code === Std.ZeroYearDay));
        break;
      case Std.Hour:
        hour = take(getnum(value, false));
        if (hour < 0 || hour >= 24) rangeErr = 'hour';
        break;
      case Std.Hour12:
      case Std.ZeroHour12:
        hour = take(getnum(value, code === Std.ZeroHour12));
        if (hour < 0 || hour > 12) rangeErr = 'hour';
        break;
      case Std.Minute:
      case Std.ZeroMinute:
        min = take(getnum(value, code === Std.ZeroMinute));
        if (min < 0 || min >= 60) rangeErr = 'minute';
        break;
      case Std.Second:
      case Std.ZeroSecond: {
        sec = take(getnum(value, code === Std.ZeroSecond));
        if (bad) break;
        if (sec < 0 || sec >= 60) {
          rangeErr = 'second';
          break;
        }
        // A fractional second in the value that the layout does not spell out.
        if (value.length >= 2 && commaOrPeriod(value[0]) && isDigitAt(value, 1)) {
          const next = chunks[index + 1]!.std & STD_MASK;
          if (next === Std.FracSecond0 || next === Std.FracSecond9) break;
          let n = 2;
          while (n < value.length && isDigitAt(value, n)) n++;
          nanos(n);
        }
        break;
      }
      case Std.PM:
      case Std.pm: {
        if (value.length < 2) {
          bad = true;
          break;
        }
        const p = value.slice(0, 2);
        value = value.slice(2);
        const [pm, am] = code === Std.PM ? ['PM', 'AM'] : ['pm', 'am'];
        if (p === pm) pmSet = true;
        else if (p === am) amSet = true;
        else bad = true;
        break;
      }
      case Std.TZ: {
        if (value.startsWith('UTC')) {
          utc = true;
          value = value.slice(3);
          break;
        }
        const n = parseTimeZone(value);
        if (n === 0) {
          bad = true;
          break;
        }
        zoneName = value.slice(0, n);
        value = value.slice(n);
        break;
      }
      case Std.FracSecond0: {
        const ndigit = 1 + digitsLen(std);
        if (value.length < ndigit) {
          bad = true;
          break;
        }
        nanos(ndigit);
        break;
      }
      case Std.FracSecond9: {
        if (value.length < 2 || !commaOrPeriod(value[0]) || !isDigitAt(value, 1)) break; // omitted
        let i = 0;
        while (i + 1 < value.length && isDigitAt(value, i + 1)) i++;
        nanos(1 + i);
        break;
      }
      default: {
        if (!ZONE_STDS.has(code)) break;
        const iso = code <= Std.ISO8601ColonSecondsTZ;
        if (iso && value[0] === 'Z') {
          value = value.slice(1);
          utc = true;
          break;
        }
        const zone = readOffset(code, value);
        if (zone === BAD) {
          bad = true;
          break;
        }
        value = zone.rest;
        zoneOffset = zone.offset;
        rangeErr = zone.range;
        if (zone.badSign) bad = true;
      }
    }
    if (rangeErr !== '') throw fail(stdstr, value, `: ${rangeErr} out of range`);
    if (bad) throw fail(stdstr, hold);
  }

  if (pmSet && hour < 12) hour += 12;
  else if (amSet && hour === 12) hour = 0;

  if (yday >= 0) {
    let d = 0;
    let m = 0;
    if (isLeap(year)) {
      if (yday === 31 + 29) {
        m = 2;
        d = 29;
      } else if (yday > 31 + 29) {
        yday--;
      }
    }
    if (yday < 1 || yday > 365) throw fail('', value, ': day-of-year out of range');
    if (m === 0) {
      m = Math.trunc((yday - 1) / 31) + 1;
      if (daysBefore(m + 1) < yday) m++;
      d = yday - daysBefore(m);
    }
    if (month >= 0 && month !== m) throw fail('', value, ': day-of-year does not match month');
    month = m;
    if (day >= 0 && day !== d) throw fail('', value, ': day-of-year does not match day');
    day = d;
  } else {
    if (month < 0) month = 1;
    if (day < 0) day = 1;
  }
  if (day < 1 || day > daysIn(month, year)) throw fail('', value, ': day out of range');

  const t = goDate(year, month, day, hour, min, sec, nsec, UTC);
  if (utc) return t;
  if (zoneOffset !== -1) return { sec: t.sec - BigInt(zoneOffset), nsec: t.nsec };
  if (zoneName !== '') {
    // Only a zone the local location knows moves the instant; Go fabricates a zero-offset zone
    // for any other abbreviation (its offset, even GMT+h's, is never applied to the instant).
    const offset = local.lookupName(fromBytes(zoneName), Number(t.sec));
    if (offset !== undefined) return { sec: t.sec - BigInt(offset), nsec: t.nsec };
  }
  return t;
}
