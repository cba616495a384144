/**
 * Go's calendar arithmetic (package time, go1.26, time.go), as OPA's time builtins see it: the
 * proleptic Gregorian calendar, instants as Unix seconds plus nanoseconds, and `time.Date` with its
 * normalisation ("October 32" is November 1) and its choice of offset around zone transitions.
 * `goDate` keeps Go's int64/uint64 wrap-around, because `time.add_date` hands it whatever integers a
 * policy passes.
 */
import type { Location } from './go-time-zone.js';

export const SECONDS_PER_DAY = 86400;

/** An instant as Go's time.Time holds it: Unix seconds, nanoseconds in [0, 1e9), and a location. */
export interface GoTime {
  sec: number;
  nsec: number;
  loc: Location;
}

export interface CivilDate {
  year: number;
  month: number; // 1..12
  day: number;
}

export function isLeap(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/** Days in a non-leap year before month m (1..13). */
export function daysBefore(month: number): number {
  return Math.trunc((214 * month - 211) / 7) + (month >= 3 ? -2 : 0);
}

export function daysIn(month: number, year: number): number {
  if (month === 2) return isLeap(year) ? 29 : 28;
  return 30 + ((month + (month >> 3)) & 1);
}

/** Days since 1970-01-01 of a civil date (H. Hinnant's days_from_civil; exact for safe integers). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The civil date of a day count since 1970-01-01 (H. Hinnant's civil_from_days). */
export function civilFromDays(days: number): CivilDate {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

/** Day of the year, 1-based. */
export function yearDay(date: CivilDate): number {
  return daysBefore(date.month) + date.day + (date.month > 2 && isLeap(date.year) ? 1 : 0);
}

/** 0 = Sunday … 6 = Saturday. */
export function weekdayOfDays(days: number): number {
  return (((days + 4) % 7) + 7) % 7;
}

/** What `t.Date()`, `t.Clock()` and `t.Weekday()` read: the wall clock of t in its location. */
export interface WallClock extends CivilDate {
  hour: number;
  minute: number;
  second: number;
  /** Days since 1970-01-01 of the wall-clock date. */
  days: number;
  /** The zone abbreviation and offset (seconds east of UTC) in effect. */
  zoneName: string;
  offset: number;
}

export function wallClock(t: GoTime): WallClock {
  const zone = t.loc.lookup(t.sec);
  const local = t.sec + zone.offset;
  const days = Math.floor(local / SECONDS_PER_DAY);
  const inDay = local - days * SECONDS_PER_DAY;
  const hour = Math.floor(inDay / 3600);
  const minute = Math.floor((inDay % 3600) / 60);
  const { year, month, day } = civilFromDays(days); // (no object spread: V8's is slow here)
  return { year, month, day, hour, minute, second: inDay % 60, days, zoneName: zone.name, offset: zone.offset };
}

/** An int64 nanosecond count as a GoTime (Go's `time.Unix(0, ns).In(loc)`). */
export function fromUnixNano(ns: bigint, loc: Location): GoTime {
  let sec = ns / 1_000_000_000n;
  let nsec = ns % 1_000_000_000n;
  if (nsec < 0n) {
    nsec += 1_000_000_000n;
    sec -= 1n;
  }
  return { sec: Number(sec), nsec: Number(nsec), loc };
}

const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;

/**
 * `t.UnixNano()` when t is within what an int64 of nanoseconds holds (1677-09-21 to 2262-04-11),
 * else undefined (OPA: "time outside of valid range").
 */
export function toSafeUnixNano(sec: bigint | number, nsec: number): bigint | undefined {
  const ns = BigInt(sec) * 1_000_000_000n + BigInt(nsec);
  return ns < MIN_INT64 || ns > MAX_INT64 ? undefined : ns;
}

// --- time.Date, with Go's integer widths ---------------------------------------------------------

const i64 = (x: bigint): bigint => BigInt.asIntN(64, x);
const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const u32 = (x: bigint): bigint => BigInt.asUintN(32, x);

const ABSOLUTE_YEARS = 292277022400n;
const MARCH_THRU_DECEMBER = 306n;
const ABSOLUTE_TO_INTERNAL = -(ABSOLUTE_YEARS * 365n + (ABSOLUTE_YEARS * 97n) / 400n + MARCH_THRU_DECEMBER) * 86400n;
const UNIX_TO_INTERNAL = (1969n * 365n + 1969n / 4n - 1969n / 100n + 1969n / 400n) * 86400n;
const ABSOLUTE_TO_UNIX = ABSOLUTE_TO_INTERNAL - UNIX_TO_INTERNAL;

/** Go's norm(hi, lo, base) on int64s: hi*base + lo == nhi*base + nlo with 0 <= nlo < base. */
function norm(hi: bigint, lo: bigint, base: bigint): [bigint, bigint] {
  if (lo < 0n) {
    const n = i64(i64(i64(-lo) - 1n) / base + 1n);
    hi = i64(hi - n);
    lo = i64(lo + i64(n * base));
  }
  if (lo >= base) {
    const n = lo / base;
    hi = i64(hi + n);
    lo = i64(lo - i64(n * base));
  }
  return [hi, lo];
}

/** Go's dateToAbsDays (uint64 arithmetic, month already in 1..12). */
function dateToAbsDays(year: bigint, month: bigint, day: bigint): bigint {
  let amonth = u32(month);
  const janFeb = amonth < 3n ? 1n : 0n;
  amonth = u32(amonth + 12n * janFeb);
  const y = u64(u64(u64(year) - janFeb) + ABSOLUTE_YEARS);
  const ayday = u32(u32(979n * amonth) - 2919n) >> 5n;
  const century = y / 100n;
  const cyear = u32(y % 100n);
  const cday = u32(1461n * cyear) / 4n;
  const centurydays = u64(146097n * century) / 4n;
  return u64(centurydays + u64(i64(i64(u32(cday + ayday)) + day) - 1n));
}

type Int = bigint | number;

/** Whether plain arithmetic on doubles is exact for these fields (no int64 overflow in Go either). */
function small(year: Int, month: Int, day: Int, hour: Int, min: Int, sec: Int, nsec: Int): boolean {
  const within = (x: Int, limit: number) => typeof x === 'number' && x >= -limit && x <= limit;
  return within(year, 1e6) && within(month, 1e6) && within(day, 1e8) && within(hour, 1e8) && within(min, 1e9) && within(sec, 1e9) && within(nsec, 1e9);
}

/**
 * Go's `time.Date(year, month, day, hour, min, sec, nsec, loc)`: the instant (Unix seconds as an
 * int64, nanoseconds) whose wall clock in loc reads so, after normalising each field.
 */
export function goDate(year: Int, month: Int, day: Int, hour: Int, min: Int, sec: Int, nsec: Int, loc: Location): { sec: bigint; nsec: number } {
  let unix: number | bigint;
  let ns: number;
  if (small(year, month, day, hour, min, sec, nsec)) {
    // Every field is linear once month and nanoseconds are normalised: exact in doubles here.
    const m = Number(month) - 1;
    const y = Number(year) + Math.floor(m / 12);
    const carry = Math.floor(Number(nsec) / 1e9);
    ns = Number(nsec) - carry * 1e9;
    unix = (daysFromCivil(y, m - Math.floor(m / 12) * 12 + 1, 1) + Number(day) - 1) * SECONDS_PER_DAY
      + Number(hour) * 3600 + Number(min) * 60 + Number(sec) + carry;
  } else {
    const wide = wideDate(BigInt(year), BigInt(month), BigInt(day), BigInt(hour), BigInt(min), BigInt(sec), BigInt(nsec));
    unix = wide.unix;
    ns = wide.nsec;
  }
  // Go looks the offset up at the wall time read as UTC, then again at the corrected instant when
  // that falls outside the first zone period; both amount to the offset in effect at the latter.
  const first = loc.lookup(Number(unix)).offset;
  if (first === 0) return { sec: BigInt(unix), nsec: ns };
  const offset = loc.lookup(Number(unix) - first).offset;
  return { sec: typeof unix === 'number' ? BigInt(unix - offset) : i64(unix - BigInt(offset)), nsec: ns };
}

/** time.Date's normalisation and day count with Go's int64/uint64 wrap-around, for any inputs. */
function wideDate(year: bigint, month: bigint, day: bigint, hour: bigint, min: bigint, sec: bigint, nsec: bigint): { unix: bigint; nsec: number } {
  let m = i64(month - 1n);
  [year, m] = norm(year, m, 12n);
  month = m + 1n;
  [sec, nsec] = norm(sec, nsec, 1_000_000_000n);
  [min, sec] = norm(min, sec, 60n);
  [hour, min] = norm(hour, min, 60n);
  [day, hour] = norm(day, hour, 24n);
  const clock = i64(i64(i64(hour * 3600n) + i64(min * 60n)) + sec);
  const unix = i64(i64(i64(i64(dateToAbsDays(year, month, day)) * 86400n) + clock) + ABSOLUTE_TO_UNIX);
  return { unix, nsec: Number(nsec) };
}
