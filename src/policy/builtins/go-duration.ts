/**
 * time.parse_duration_ns: Go's time.ParseDuration (go1.26 format.go) and OPA v1.19.1's extension
 * for days, weeks and years (topdown/time.go parseExtendedDuration: "d" = 24h, "w" = 168h,
 * "y" = 8760h, each segment rewritten to hours through a float64, then parsed by Go).
 */
import { quote } from './go-time-parse-fields.js';
import { toBytes } from './go-time-layout.js';

/** A string Go or OPA refuses as a duration, with Go's message. */
export class DurationError extends Error {}

const UNITS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['\u00c2\u00b5s', 1_000n], // "µs" (U+00B5) as UTF-8 bytes
  ['\u00ce\u00bcs', 1_000n], // "μs" (U+03BC) as UTF-8 bytes
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

const TWO_63 = 2n ** 63n;

/** Go's time.ParseDuration on a byte string (see toBytes). */
function goParseDuration(orig: string): bigint {
  const invalid = (message = 'invalid duration') => new DurationError(`time: ${message} ${quote(orig)}`);
  let s = orig;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw invalid();
  let d = 0n;
  while (s !== '') {
    if (!/^[0-9.]/.test(s)) throw invalid();
    // Integer part (uint64 with Go's overflow check).
    const intDigits = /^[0-9]*/.exec(s)![0];
    let v = 0n;
    for (const c of intDigits) {
      if (v > TWO_63 / 10n) throw invalid();
      v = v * 10n + BigInt(c);
      if (v > TWO_63) throw invalid();
    }
    s = s.slice(intDigits.length);
    // Fraction: digits past uint64's reach stop adding precision (Go's leadingFraction).
    let f = 0n;
    let scale = 1;
    let post = false;
    if (s[0] === '.') {
      const fracDigits = /^[0-9]*/.exec(s.slice(1))![0];
      post = fracDigits.length > 0;
      let overflow = false;
      for (const c of fracDigits) {
        if (overflow) continue;
        if (f > (TWO_63 - 1n) / 10n) {
          overflow = true;
          continue;
        }
        const y = f * 10n + BigInt(c);
        if (y > TWO_63) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      s = s.slice(1 + fracDigits.length);
    }
    if (intDigits.length === 0 && !post) throw invalid();
    const unitText = /^[^0-9.]*/.exec(s)![0];
    if (unitText === '') throw invalid('missing unit in duration');
    s = s.slice(unitText.length);
    const unit = UNITS.get(unitText);
    if (unit === undefined) throw invalid(`unknown unit ${quote(unitText)} in duration`);
    if (v > TWO_63 / unit) throw invalid();
    v *= unit;
    if (f > 0n) {
      // float64, as Go: nanosecond-accurate for fractions of an hour.
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > TWO_63) throw invalid();
    }
    d += v;
    if (d > TWO_63) throw invalid();
  }
  if (neg) return -d;
  if (d > TWO_63 - 1n) throw invalid();
  return d;
}

const EXTENDED_HOURS: Readonly<Record<string, number>> = { d: 24, w: 7 * 24, y: 365 * 24 };

/** OPA's durationparser grammar: sign? (digits|".")+ unit, repeated; a unit is ms|us|µs|ns|[a-z]. */
const EXTENDED_SEGMENT = /([0-9.]+)(ms|us|\u00c2\u00b5s|ns|[a-z])/y;

/** Go's strconv.FormatFloat(x, 'f', -1, 64): shortest round-trip digits, never an exponent. */
function formatFloatF(x: number): string {
  const text = String(x);
  if (!/e/.test(text)) return text;
  const [mantissa, exp] = text.split('e') as [string, string];
  const [intPart, fracPart = ''] = mantissa.split('.') as [string, string?];
  const digits = intPart + fracPart;
  const point = intPart.length + Number(exp);
  if (point >= digits.length) return digits + '0'.repeat(point - digits.length);
  return point <= 0 ? `0.${'0'.repeat(-point)}${digits}` : `${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** time.parse_duration_ns: nanoseconds of a Go duration, with OPA's d/w/y units. @throws DurationError */
export function parseDurationNs(text: string): bigint {
  const s = toBytes(text);
  if (s === '') throw new DurationError('time: invalid duration ""');
  if (!/[dwy]/.test(s)) return goParseDuration(s);
  const invalid = () => new DurationError(`time: invalid duration ${quote(s)}`);
  let pos = 0;
  let rewritten = '';
  if (s[0] === '-' || s[0] === '+') {
    rewritten = s[0];
    pos = 1;
  }
  if (pos === s.length) throw invalid();
  while (pos < s.length) {
    EXTENDED_SEGMENT.lastIndex = pos;
    const m = EXTENDED_SEGMENT.exec(s);
    if (!m) throw invalid();
    pos = EXTENDED_SEGMENT.lastIndex;
    const [, digits, unit] = m as unknown as [string, string, string];
    const hoursPer = EXTENDED_HOURS[unit];
    if (hoursPer === undefined) {
      rewritten += digits + unit;
      continue;
    }
    // Go's ParseFloat: a decimal with at most one point and at least one digit; ±Inf is an error.
    if (!/^(\d+\.?\d*|\.\d+)$/.test(digits)) throw invalid();
    const hours = Number(digits) * hoursPer;
    if (!Number.isFinite(Number(digits))) throw invalid();
    rewritten += `${formatFloatF(hours)}h`;
  }
  try {
    return goParseDuration(rewritten);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new DurationError(`${message.slice(0, message.lastIndexOf(' '))} ${quote(s)}`);
  }
}
