/**
 * Host builtins: the time family, as OPA v1.19.1 has it (v1/topdown/time.go). Instants are int64
 * nanoseconds since the Unix epoch (bigint beyond 2^53, exact); a time argument is `ns`, `[ns]`,
 * `[ns, tz]` or (time.format) `[ns, tz, layout]`; zones, layouts, parsing and calendar arithmetic
 * follow Go's time package through the go-time-*.ts modules.
 */
import { integerArg, numberArg, stringArg, typeName } from './args.js';
import { parseDurationNs } from './go-duration.js';
import { daysIn, fromUnixNano, type GoTime, goDate, toSafeUnixNano, type WallClock, wallClock, weekdayOfDays } from './go-time-date.js';
import { formatTime } from './go-time-format.js';
import { LONG_DAY_NAMES, NAMED_LAYOUTS, RFC3339, RFC3339_NANO } from './go-time-layout.js';
import { parseTime } from './go-time-parse.js';
import { UTC } from './go-time-zone.js';
import { loadLocation, localLocation } from './go-time-zone-load.js';
import { BuiltinError, type BuiltinFamily, type RegoValue } from './types.js';

const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;

/** A Rego number as an int64 (OPA: exact conversion through big.Float, else "timestamp too big"). */
function timestampNs(builtin: string, value: RegoValue | undefined): bigint {
  const n = numberArg(builtin, 1, value);
  if (typeof n === 'number' && !Number.isInteger(n)) throw new BuiltinError(builtin, 'timestamp too big');
  const ns = BigInt(n);
  if (ns < MIN_INT64 || ns > MAX_INT64) throw new BuiltinError(builtin, 'timestamp too big');
  return ns;
}

/** OPA's tzTime: the time argument, its location, and the layout of a 3-element array. */
function tzTime(builtin: string, arg: RegoValue | undefined): { t: GoTime; layout: string } {
  const expected = 'either number (ns) or [number (ns), string (tz)]';
  if (Array.isArray(arg)) {
    if (arg.length === 0) throw new BuiltinError(builtin, `operand 1 must be ${expected} but got array`);
    numberArg(builtin, 1, arg[0]);
    let loc = UTC;
    if (arg.length > 1) {
      const tz = stringArg(builtin, 1, arg[1]);
      loc = goCall(builtin, () => (tz === 'Local' ? localLocation() : loadLocation(tz)));
    }
    const layout = arg.length > 2 ? stringArg(builtin, 1, arg[2]) : '';
    return { t: fromUnixNano(timestampNs(builtin, arg[0]), loc), layout };
  }
  if (typeof arg !== 'number' && typeof arg !== 'bigint') {
    throw new BuiltinError(builtin, `operand 1 must be ${expected} but got ${typeName(arg)}`);
  }
  return { t: fromUnixNano(timestampNs(builtin, arg), UTC), layout: '' };
}

/** OPA's toSafeUnixNano: the instant as ns, or "time outside of valid range". */
function safeNs(builtin: string, sec: bigint | number, nsec: number): RegoValue {
  const ns = toSafeUnixNano(sec, nsec);
  if (ns === undefined) throw new BuiltinError(builtin, 'time outside of valid range');
  return nsValue(ns);
}

/** An int64 ns as a Rego number: a JS number where exact, else a bigint. */
function nsValue(ns: bigint): RegoValue {
  return ns >= BigInt(Number.MIN_SAFE_INTEGER) && ns <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(ns) : ns;
}

/** OPA's IntOperand: an integer that fits Go's int (int64). */
function intOperand(builtin: string, position: number, value: RegoValue | undefined): bigint {
  let n: bigint;
  try {
    n = integerArg(builtin, position, value);
  } catch (err) {
    if (typeof value === 'number') throw new BuiltinError(builtin, `operand ${position} must be integer number but got floating-point number`);
    throw err;
  }
  if (n < MIN_INT64 || n > MAX_INT64) throw new BuiltinError(builtin, `operand ${position} must be integer number but got floating-point number`);
  return n;
}

/** fn's result; an error from the Go ports (ParseError, unknown zone, …) as the builtin's error. */
function goCall<T>(builtin: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof BuiltinError) throw err;
    throw new BuiltinError(builtin, err instanceof Error ? err.message : String(err));
  }
}

function parse(builtin: string, layout: string, value: string): RegoValue {
  const t = goCall(builtin, () => parseTime(layout, value, localLocation()));
  return safeNs(builtin, t.sec, t.nsec);
}

export const timeBuiltins: BuiltinFamily = {
  'time.now_ns': {
    fn: (ctx) => nsValue(ctx.nowNs()),
    nondeterministic: true,
    note: 'the same value for every call within one evaluation (one Check), as in OPA',
  },
  'time.parse_ns': {
    fn: (_ctx, layout, value) => {
      const format = stringArg('time.parse_ns', 1, layout);
      const text = stringArg('time.parse_ns', 2, value);
      return parse('time.parse_ns', NAMED_LAYOUTS.get(format) ?? format, text);
    },
    note: 'a zone abbreviation (MST) moves the instant only when the server\'s local zone defines it; any other reads as UTC, as in OPA',
  },
  'time.parse_rfc3339_ns': {
    fn: (_ctx, value) => parse('time.parse_rfc3339_ns', RFC3339, stringArg('time.parse_rfc3339_ns', 1, value)),
  },
  'time.parse_duration_ns': {
    fn: (_ctx, value) => {
      const text = stringArg('time.parse_duration_ns', 1, value);
      return nsValue(goCall('time.parse_duration_ns', () => parseDurationNs(text)));
    },
  },
  'time.format': {
    fn: (_ctx, arg) => {
      const { t, layout } = tzTime('time.format', arg);
      return formatTime(t, layout === '' ? RFC3339_NANO : NAMED_LAYOUTS.get(layout) ?? layout);
    },
    note: 'time zones are read from the server\'s zoneinfo files, as OPA reads them; on a machine without them, from Node\'s ICU data, where zone abbreviations (MST) often differ from tzdata\'s and offsets before 1970 may',
  },
  'time.date': {
    fn: (_ctx, arg) => {
      const w = wallClock(tzTime('time.date', arg).t);
      return [w.year, w.month, w.day];
    },
  },
  'time.clock': {
    fn: (_ctx, arg) => {
      const w = wallClock(tzTime('time.clock', arg).t);
      return [w.hour, w.minute, w.second];
    },
  },
  'time.weekday': {
    fn: (_ctx, arg) => LONG_DAY_NAMES[weekdayOfDays(wallClock(tzTime('time.weekday', arg).t).days)]!,
  },
  'time.add_date': {
    fn: (_ctx, arg, years, months, days) => {
      const { t } = tzTime('time.add_date', arg);
      const y = intOperand('time.add_date', 2, years);
      const m = intOperand('time.add_date', 3, months);
      const d = intOperand('time.add_date', 4, days);
      const w = wallClock(t);
      const add = (a: number, b: bigint) => {
        const sum = BigInt.asIntN(64, BigInt(a) + b); // Go's int wraps
        return Number.isSafeInteger(Number(sum)) ? Number(sum) : sum;
      };
      const r = goDate(add(w.year, y), add(w.month, m), add(w.day, d), w.hour, w.minute, w.second, t.nsec, t.loc);
      return safeNs('time.add_date', r.sec, r.nsec);
    },
    note: 'years, months and days written as 1.0 or 1e2 count as integers here; OPA refuses them (undefined), but the numbers reach host builtins without their spelling',
  },
  'time.diff': {
    fn: (_ctx, a, b) => {
      let t1 = tzTime('time.diff', a).t;
      let t2 = tzTime('time.diff', b).t;
      t2 = { ...t2, loc: t1.loc }; // Go compares in t1's location
      if (t1.sec > t2.sec || (t1.sec === t2.sec && t1.nsec > t2.nsec)) [t1, t2] = [t2, t1];
      return diff(wallClock(t1), wallClock(t2));
    },
  },
};

/** OPA's time.diff normalisation (after icza/gox): years, months, days, hours, minutes, seconds. */
function diff(w1: WallClock, w2: WallClock): number[] {
  let year = w2.year - w1.year;
  let month = w2.month - w1.month;
  let day = w2.day - w1.day;
  let hour = w2.hour - w1.hour;
  let min = w2.minute - w1.minute;
  let sec = w2.second - w1.second;
  if (sec < 0) {
    sec += 60;
    min--;
  }
  if (min < 0) {
    min += 60;
    hour--;
  }
  if (hour < 0) {
    hour += 24;
    day--;
  }
  if (day < 0) {
    day += daysIn(w1.month, w1.year); // Go: 32 - Date(y1, M1, 32).Day()
    month--;
  }
  if (month < 0) {
    month += 12;
    year--;
  }
  return [year, month, day, hour, min, sec];
}
