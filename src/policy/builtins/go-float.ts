/**
 * Go's strconv.FormatFloat(v, fmt, prec, 64) for fmt e, E, f, g, G, b, x, X (Go 1.26
 * internal/strconv/ftoa.go). Shortest digits (prec -1) come from JavaScript's own shortest
 * round-trip conversion (the same digits Go's algorithm finds); fixed precisions round the exact
 * binary value, half to even, like Go's decimal rounding.
 */

interface Digits {
  /** Significant digits, no leading or trailing zeros ("" for zero). */
  d: string;
  /** Decimal point position: value = 0.d × 10^dp. */
  dp: number;
}

function bits(v: number): { neg: boolean; mant: bigint; exp: number; denormal: boolean } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, v);
  const b = view.getBigUint64(0);
  const neg = b >> 63n === 1n;
  let exp = Number((b >> 52n) & 0x7ffn);
  let mant = b & ((1n << 52n) - 1n);
  const denormal = exp === 0;
  if (denormal) exp++;
  else mant |= 1n << 52n;
  return { neg, mant, exp: exp - 1023, denormal };
}

const trimZeros = (d: Digits): Digits => ({ d: d.d.replace(/0+$/, ''), dp: d.d.replace(/0+$/, '') === '' ? 0 : d.dp });

/** The exact decimal expansion of |v|. */
function exactDigits(v: number): Digits {
  const { mant, exp } = bits(v);
  if (mant === 0n) return { d: '', dp: 0 };
  const e2 = exp - 52;
  if (e2 >= 0) {
    const s = (mant << BigInt(e2)).toString();
    return trimZeros({ d: s, dp: s.length });
  }
  const s = (mant * 5n ** BigInt(-e2)).toString();
  return trimZeros({ d: s, dp: s.length + e2 });
}

/** The shortest digits that read back as v (JavaScript's Number#toExponential()). */
function shortestDigits(v: number): Digits {
  if (v === 0) return { d: '', dp: 0 };
  const [mantissa, exponent] = Math.abs(v).toExponential().split('e') as [string, string];
  return trimZeros({ d: mantissa.replace('.', ''), dp: Number(exponent) + 1 });
}

/** Keep the first n digits of an exact expansion, rounding half to even (Go's decimal.Round). */
function round(x: Digits, n: number): Digits {
  if (n < 0 || n >= x.d.length) return x;
  const next = x.d[n]!;
  const up = next > '5' || (next === '5' && (n + 1 < x.d.length || (n > 0 && Number(x.d[n - 1]) % 2 === 1)));
  if (!up) return trimZeros({ d: x.d.slice(0, n), dp: x.d.slice(0, n) === '' ? 0 : x.dp });
  const digits = x.d.slice(0, n).split('');
  let i = n - 1;
  for (; i >= 0; i--) {
    if (digits[i]! < '9') {
      digits[i] = String(Number(digits[i]) + 1);
      return trimZeros({ d: digits.slice(0, i + 1).join(''), dp: x.dp });
    }
  }
  return { d: '1', dp: x.dp + 1 };
}

function fmtE(neg: boolean, d: Digits, prec: number, fmt: string): string {
  let out = neg ? '-' : '';
  out += d.d.length ? d.d[0] : '0';
  if (prec > 0) {
    out += '.';
    const more = d.d.slice(1, Math.min(d.d.length, prec + 1));
    out += more + '0'.repeat(prec - more.length);
  }
  let exp = d.d.length === 0 ? 0 : d.dp - 1;
  const sign = exp < 0 ? '-' : '+';
  exp = Math.abs(exp);
  return `${out}${fmt}${sign}${exp < 10 ? `0${exp}` : exp}`;
}

function fmtF(neg: boolean, d: Digits, prec: number): string {
  let out = neg ? '-' : '';
  if (d.dp > 0) {
    const m = Math.min(d.d.length, d.dp);
    out += d.d.slice(0, m) + '0'.repeat(d.dp - m);
  } else {
    out += '0';
  }
  if (prec > 0) {
    out += '.';
    for (let i = 0; i < prec; i++) {
      const j = d.dp + i;
      out += j >= 0 && j < d.d.length ? d.d[j] : '0';
    }
  }
  return out;
}

/** strconv's %b: mantissa "p" binary exponent. */
function fmtB(v: number): string {
  const { neg, mant, exp } = bits(v);
  const e = exp - 52;
  return `${neg ? '-' : ''}${mant}p${e >= 0 ? '+' : ''}${e}`;
}

/** strconv's %x / %X: hexadecimal mantissa and binary exponent. */
function fmtX(v: number, prec: number, fmt: string): string {
  const info = bits(v);
  let { mant, exp } = info;
  if (mant === 0n) exp = 0;
  const MASK64 = (1n << 64n) - 1n;
  mant = (mant << 8n) & MASK64; // 60 - mantbits(52)
  while (mant !== 0n && (mant & (1n << 60n)) === 0n) {
    mant = (mant << 1n) & MASK64;
    exp--;
  }
  if (prec >= 0 && prec < 15) {
    const shift = BigInt(prec * 4);
    const extra = (mant << shift) & ((1n << 60n) - 1n);
    mant >>= 60n - shift;
    if ((extra | (mant & 1n)) > 1n << 59n) mant++;
    mant <<= 60n - shift;
    if ((mant & (1n << 61n)) !== 0n) {
      mant >>= 1n;
      exp++;
    }
  }
  const hex = fmt === 'X' ? '0123456789ABCDEF' : '0123456789abcdef';
  let out = `${info.neg ? '-' : ''}0${fmt}${(mant >> 60n) & 1n}`;
  mant = (mant << 4n) & MASK64;
  if (prec < 0 && mant !== 0n) {
    out += '.';
    while (mant !== 0n) {
      out += hex[Number((mant >> 60n) & 15n)];
      mant = (mant << 4n) & MASK64;
    }
  } else if (prec > 0) {
    out += '.';
    for (let i = 0; i < prec; i++) {
      out += hex[Number((mant >> 60n) & 15n)];
      mant = (mant << 4n) & MASK64;
    }
  }
  out += fmt === 'X' ? 'P' : 'p';
  const sign = exp < 0 ? '-' : '+';
  exp = Math.abs(exp);
  return `${out}${sign}${exp < 10 ? `0${exp}` : exp}`;
}

/** strconv.FormatFloat(v, fmt, prec, 64) for a finite v. */
export function formatFloat(v: number, fmt: string, prec: number): string {
  if (fmt === 'b') return fmtB(v);
  if (fmt === 'x' || fmt === 'X') return fmtX(v, prec, fmt);
  const neg = v < 0 || Object.is(v, -0);
  const shortest = prec < 0;
  // %.Nf fast path: toFixed is correctly rounded except on an exact tie, where it rounds away from
  // zero and Go to even. A tie needs v·10^(N+1) to be an integer, so v·2^(N+1) too; otherwise the
  // two agree.
  if (fmt === 'f' && !shortest && prec <= 100 && v !== 0 && Math.abs(v) < 1e21 && !Number.isInteger(v * 2 ** (prec + 1))) {
    return v.toFixed(prec);
  }
  let digs: Digits;
  let p = prec;
  if (shortest) {
    digs = shortestDigits(v);
    if (digs.d.length > 0) {
      if (fmt === 'e' || fmt === 'E') p = Math.max(digs.d.length - 1, 0);
      else if (fmt === 'f') p = Math.max(digs.d.length - digs.dp, 0);
      else p = digs.d.length;
    }
  } else {
    const exact = exactDigits(v);
    if (fmt === 'f') digs = round(exact, exact.dp + p);
    else if (fmt === 'e' || fmt === 'E') digs = round(exact, p + 1);
    else {
      if (p === 0) p = 1;
      digs = round(exact, p);
    }
    if (fmt === 'f' && exact.dp + p < 0) digs = { d: '', dp: 0 };
  }
  if (fmt === 'e' || fmt === 'E') return fmtE(neg, digs, p, fmt);
  if (fmt === 'f') return fmtF(neg, digs, p);
  // g, G
  let eprec = p;
  if (eprec > digs.d.length && digs.d.length >= digs.dp) eprec = digs.d.length;
  if (shortest) eprec = 6;
  const exp = digs.dp - 1;
  if (exp < -4 || exp >= eprec) {
    if (p > digs.d.length) p = digs.d.length;
    return fmtE(neg, digs, p - 1, fmt === 'g' ? 'e' : 'E');
  }
  if (p > digs.dp) p = digs.d.length;
  return fmtF(neg, digs, Math.max(p - digs.dp, 0));
}
