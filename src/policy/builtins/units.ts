/**
 * Host builtins: units.parse, units.parse_bytes (topdown/parse_units.go, parse_bytes.go).
 *
 * units.parse is exact rational arithmetic in OPA (big.Rat): an integral result is the exact
 * integer (a bigint beyond 2^53), anything else is rounded to 10 decimals. Its `m` (milli) unit is
 * the float64 0.001, not 1/1000, which is why OPA's `units.parse("1000m")` is not an integer but
 * 1.0000000000; that value is reproduced exactly below. units.parse_bytes is big.Float arithmetic
 * with a 64-bit mantissa, so large amounts are rounded (`units.parse_bytes("1e30")` is
 * 1000000000000000000024696061952); this file reproduces Go's rounding steps.
 */
import { stringArg } from './args.js';
import { BuiltinError, type BuiltinFamily, type RegoValue } from './types.js';

const MAX_EXPONENT_DIGITS = 6;
/** Results with decimal exponents beyond this are refused (an input-controlled megabyte number). */
const MAX_DECIMAL_EXPONENT = 4096;

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

/** extractNumAndUnit: the number part and the unit part; throws when the exponent has too many digits. */
function splitAmount(s: string, tooLarge: () => Error): [string, string] {
  let firstNonNum = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (!isDigit(c) && c !== '.' && c !== 'e' && c !== 'E' && c !== '+' && c !== '-') {
      firstNonNum = i;
      break;
    }
    if (c === 'e' || c === 'E') {
      const next = s[i + 1];
      if (i === s.length - 1 || (!isDigit(next) && next !== '+' && next !== '-')) {
        firstNonNum = i;
        break;
      }
      if (next === '+' || next === '-') i++;
      let end = i + 1;
      while (isDigit(s[end])) end++;
      if (end - (i + 1) > MAX_EXPONENT_DIGITS) throw tooLarge();
    }
  }
  if (firstNonNum === -1) return [s, ''];
  if (firstNonNum === 0) return ['', s];
  return [s.slice(0, firstNonNum), s.slice(firstNonNum)];
}

/** A decimal number as Go's big.Rat/big.Float scan it: sign, digits (one optional '.'), exponent. */
interface Decimal {
  negative: boolean;
  digits: bigint;
  exp10: number;
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

function parseDecimal(text: string): Decimal | undefined {
  const m = DECIMAL.exec(text);
  if (!m) return undefined;
  const int = m[2]!;
  const frac = m[3] ?? '';
  if (int === '' && frac === '') return undefined;
  const exp10 = Number(m[4] ?? '0') - frac.length;
  if (Math.abs(exp10) > 1e6) return undefined;
  return { negative: m[1] === '-', digits: BigInt(int + frac || '0'), exp10 };
}

// ---- units.parse: exact rationals ----

interface Rational {
  num: bigint;
  den: bigint;
}

/** The exact value of a float64, as Go's big.Rat.SetFloat64. */
function rationalOfFloat(f: number): Rational {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, f);
  const bits = view.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn);
  let mantissa = bits & ((1n << 52n) - 1n);
  if (exp !== 0) mantissa |= 1n << 52n;
  const shift = (exp === 0 ? 1 : exp) - 1075;
  return shift >= 0 ? { num: mantissa << BigInt(shift), den: 1n } : { num: mantissa, den: 1n << BigInt(-shift) };
}

const SI = 1000n;
const UNITS: Record<string, Rational> = {
  m: rationalOfFloat(0.001),
  '': { num: 1n, den: 1n },
};
for (const [i, names] of [['k', 'K'], ['M'], ['g', 'G'], ['t', 'T'], ['p', 'P'], ['e', 'E']].entries()) {
  for (const name of names) UNITS[name] = { num: SI ** BigInt(i + 1), den: 1n };
}
for (const [i, names] of [['ki', 'Ki'], ['mi', 'Mi'], ['gi', 'Gi'], ['ti', 'Ti'], ['pi', 'Pi'], ['ei', 'Ei']].entries()) {
  for (const name of names) UNITS[name] = { num: 1n << BigInt(10 * (i + 1)), den: 1n };
}

/** A bigint as a Rego number (a JS number when exact). */
function integerValue(n: bigint): RegoValue {
  return n >= -BigInt(Number.MAX_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

/** big.Rat.FloatString(10): 10 decimals, the last rounded half away from zero. */
function floatString10(r: Rational): string {
  const negative = r.num < 0n;
  const a = negative ? -r.num : r.num;
  let q = a / r.den;
  let rem = a % r.den;
  const p = 10n ** 10n;
  rem *= p;
  let frac = rem / r.den;
  const r2 = rem % r.den;
  if (2n * r2 >= r.den) frac++;
  if (frac >= p) {
    q++;
    frac -= p;
  }
  return `${negative ? '-' : ''}${q}.${frac.toString().padStart(10, '0')}`;
}

function unitsParse(raw: string): RegoValue {
  const fail = (message: string) => new BuiltinError('units.parse', message);
  const s = raw.replaceAll('"', '');
  if (s.includes(' ')) throw fail('spaces not allowed in resource strings');
  let [num, unit] = splitAmount(s, () => fail('exponent too large'));
  if (num === '') throw fail('no amount provided');
  if (unit.length > 1) unit = unit[0] + unit.slice(1).toLowerCase();
  const multiplier = Object.hasOwn(UNITS, unit) ? UNITS[unit] : undefined;
  if (!multiplier) throw fail(`unit ${unit} not recognized`);
  const d = parseDecimal(num);
  if (!d) throw fail('could not parse amount to a number');
  if (Math.abs(d.exp10) > MAX_DECIMAL_EXPONENT) throw fail('amount too large for gatehouse');
  const signed = d.negative ? -d.digits : d.digits;
  const value: Rational =
    d.exp10 >= 0
      ? { num: signed * 10n ** BigInt(d.exp10) * multiplier.num, den: multiplier.den }
      : { num: signed * multiplier.num, den: 10n ** BigInt(-d.exp10) * multiplier.den };
  if (value.num % value.den === 0n) return integerValue(value.num / value.den);
  return Number(floatString10(value));
}

// ---- units.parse_bytes: big.Float with a 64-bit mantissa, round to nearest even ----

/** mant · 2^exp, mant ≥ 0. */
interface BinaryFloat {
  mant: bigint;
  exp: number;
}

const bitLength = (n: bigint) => (n === 0n ? 0 : n.toString(2).length);

/** Round to `prec` bits, nearest even; `sticky` says nonzero bits were already dropped below. */
function round(x: BinaryFloat, prec: number, sticky = false): BinaryFloat {
  const bits = bitLength(x.mant);
  if (bits <= prec) return x;
  const shift = bits - prec;
  let q = x.mant >> BigInt(shift);
  const rem = x.mant & ((1n << BigInt(shift)) - 1n);
  const half = 1n << BigInt(shift - 1);
  if (rem > half || (rem === half && (sticky || (q & 1n) === 1n))) q++;
  let exp = x.exp + shift;
  if (bitLength(q) > prec) {
    q >>= 1n;
    exp++;
  }
  return { mant: q, exp };
}

const mul = (x: BinaryFloat, y: BinaryFloat, prec: number) => round({ mant: x.mant * y.mant, exp: x.exp + y.exp }, prec);

function quo(x: BinaryFloat, y: BinaryFloat, prec: number): BinaryFloat {
  const k = Math.max(0, prec + 2 + bitLength(y.mant) - bitLength(x.mant));
  const scaled = x.mant << BigInt(k);
  const q = scaled / y.mant;
  const sticky = scaled % y.mant !== 0n;
  // one extra low bit carries the sticky information into round-to-nearest-even
  return round({ mant: (q << 1n) | (sticky ? 1n : 0n), exp: x.exp - k - y.exp - 1 }, prec);
}

/** big.Float.pow5 at 128 bits: exact up to 5^27, then square-and-multiply with rounding. */
function pow5(n: number): BinaryFloat {
  if (n <= 27) return { mant: 5n ** BigInt(n), exp: 0 };
  let z: BinaryFloat = { mant: 5n ** 27n, exp: 0 };
  let f: BinaryFloat = { mant: 5n, exp: 0 };
  for (let k = n - 27; k > 0; k = Math.floor(k / 2)) {
    if (k % 2 === 1) z = mul(z, f, 128);
    f = mul(f, f, 192);
  }
  return z;
}

const BYTE_UNITS: Record<string, bigint> = { '': 1n };
for (const [i, [si, iec]] of [['k', 'ki'], ['m', 'mi'], ['g', 'gi'], ['t', 'ti'], ['p', 'pi'], ['e', 'ei']].entries()) {
  BYTE_UNITS[si!] = BYTE_UNITS[`${si}b`] = SI ** BigInt(i + 1);
  BYTE_UNITS[iec!] = BYTE_UNITS[`${iec}b`] = 1n << BigInt(10 * (i + 1));
}

function unitsParseBytes(raw: string): RegoValue {
  const fail = (message: string) => new BuiltinError('units.parse_bytes', message);
  const s = raw.toLowerCase().replaceAll('"', '');
  if (s.includes(' ')) throw fail('spaces not allowed in resource strings');
  const [num, unit] = splitAmount(s, () => fail('exponent too large'));
  if (num === '') throw fail('no byte amount provided');
  const multiplier = Object.hasOwn(BYTE_UNITS, unit) ? BYTE_UNITS[unit] : undefined;
  if (multiplier === undefined) throw fail(`byte unit ${unit} not recognized`);
  const d = parseDecimal(num);
  if (!d) throw fail('could not parse byte amount to a number');
  if (d.digits === 0n) return 0;
  if (d.exp10 > MAX_DECIMAL_EXPONENT) throw fail('amount too large for gatehouse');
  // 10^e = 5^e · 2^e: the mantissa times 2^e exactly, then one rounded multiply/divide by 5^|e|
  let x: BinaryFloat = { mant: d.digits, exp: d.exp10 };
  if (d.exp10 === 0) x = round(x, 64);
  else if (d.exp10 > 0) x = mul(x, pow5(d.exp10), 64);
  else x = quo(x, pow5(-d.exp10), 64);
  x = mul(x, { mant: multiplier, exp: 0 }, 64);
  // Int(): truncate toward zero
  const magnitude = x.exp >= 0 ? x.mant << BigInt(x.exp) : x.mant >> BigInt(-x.exp);
  return integerValue(d.negative ? -magnitude : magnitude);
}

export const unitsBuiltins: BuiltinFamily = {
  'units.parse': {
    fn: (_ctx, value) => unitsParse(stringArg('units.parse', 1, value)),
    note: 'A non-integral result is rounded to 10 decimals as in OPA, then held as a float64 (OPA keeps every digit, which differs beyond 2^53); amounts with a decimal exponent beyond ±4096 are an error in gatehouse (OPA computes the megabyte number).',
  },
  'units.parse_bytes': {
    fn: (_ctx, value) => unitsParseBytes(stringArg('units.parse_bytes', 1, value)),
    note: 'Computed with a 64-bit mantissa like OPA (large amounts are rounded the same way); amounts with a decimal exponent beyond 4096 are an error in gatehouse.',
  },
};
