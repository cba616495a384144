/**
 * The field readers of Go's time.Parse (go1.26 format.go: getnum, skip, lookup, parseTimeZone,
 * parseNanoseconds, atoi, leadingInt, the zone offset forms), on byte strings (see go-time-layout.ts). Each returns BAD
 * where Go returns its errBad placeholder.
 */
import { isDigitAt, Std } from './go-time-layout.js';

/** Go's quote for error messages (non-ASCII bytes as \x escapes). */
export function quote(bytes: string): string {
  let out = '"';
  for (const c of bytes) {
    const code = c.charCodeAt(0);
    if (code >= 0x80 || code < 0x20) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += c === '"' || c === '\\' ? `\\${c}` : c;
  }
  return `${out}"`;
}

export const BAD = Symbol('errBad');
export type Bad = typeof BAD;

/** Go's leadingInt: the leading [0-9]* as a uint64 (a number when short), or BAD on overflow. */
export function leadingInt(s: string): { x: bigint | number; rem: string } | Bad {
  let i = 0;
  while (i < s.length && isDigitAt(s, i)) i++;
  const rem = s.slice(i);
  if (i <= 15) return { x: i === 0 ? 0 : Number(s.slice(0, i)), rem };
  let x = 0n;
  for (let j = 0; j < i; j++) {
    if (x > 2n ** 63n / 10n) return BAD;
    x = x * 10n + BigInt(s.charCodeAt(j) - 0x30);
    if (x > 2n ** 63n) return BAD;
  }
  return { x, rem };
}

/** Go's atoi: an optionally signed decimal that must fill s. */
export function atoi(s: string): number | Bad {
  let neg = false;
  if (s[0] === '-' || s[0] === '+') {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  const r = leadingInt(s);
  if (r === BAD || r.rem !== '') return BAD;
  const x = typeof r.x === 'number' ? r.x : Number(BigInt.asIntN(64, r.x)); // Go's int(uint64) wraps
  return neg ? 0 - x : x; // (0 -, so never -0)
}

/** Go's getnum: one or two digits (exactly two when fixed). */
export function getnum(s: string, fixed: boolean): [number, string] | Bad {
  if (!isDigitAt(s, 0)) return BAD;
  if (!isDigitAt(s, 1)) return fixed ? BAD : [s.charCodeAt(0) - 0x30, s.slice(1)];
  return [(s.charCodeAt(0) - 0x30) * 10 + s.charCodeAt(1) - 0x30, s.slice(2)];
}

/** Go's getnum3: one to three digits (exactly three when fixed). */
export function getnum3(s: string, fixed: boolean): [number, string] | Bad {
  let n = 0;
  let i = 0;
  for (; i < 3 && isDigitAt(s, i); i++) n = n * 10 + s.charCodeAt(i) - 0x30;
  if (i === 0 || (fixed && i !== 3)) return BAD;
  return [n, s.slice(i)];
}

/** Go's skip: strip the layout's literal prefix from value, any run of spaces matching any other. */
export function skip(value: string, prefix: string): string | Bad {
  while (prefix.length > 0) {
    if (prefix[0] === ' ') {
      if (value.length > 0 && value[0] !== ' ') return BAD;
      prefix = prefix.replace(/^ +/, '');
      value = value.replace(/^ +/, '');
      continue;
    }
    if (value.length === 0 || value[0] !== prefix[0]) return BAD;
    prefix = prefix.slice(1);
    value = value.slice(1);
  }
  return value;
}

/** Go's match: equal ignoring the case of ASCII letters. */
function matchFold(s1: string, s2: string): boolean {
  for (let i = 0; i < s1.length; i++) {
    let c1 = s1.charCodeAt(i);
    let c2 = s2.charCodeAt(i);
    if (c1 !== c2) {
      c1 |= 0x20;
      c2 |= 0x20;
      if (c1 !== c2 || c1 < 0x61 || c1 > 0x7a) return false;
    }
  }
  return true;
}

export function lookupName(tab: readonly string[], val: string): [number, string] | Bad {
  for (let i = 0; i < tab.length; i++) {
    const v = tab[i]!;
    if (val.length >= v.length && matchFold(val.slice(0, v.length), v)) return [i, val.slice(v.length)];
  }
  return BAD;
}

/** Go's parseSignedOffset: the length of "+hh"/"-hh" (hh <= 23) at the start, 0 if none. */
function parseSignedOffset(value: string): number {
  if (value[0] !== '-' && value[0] !== '+') return 0;
  const r = leadingInt(value.slice(1));
  if (r === BAD || r.rem.length === value.length - 1 || r.x > 23) return 0;
  return value.length - r.rem.length;
}

/** Go's parseTimeZone: the length of a zone abbreviation at the start of value, 0 if none. */
export function parseTimeZone(value: string): number {
  if (value.length < 3) return 0;
  if (value.startsWith('ChST') || value.startsWith('MeST')) return 4;
  if (value.startsWith('GMT')) return value.length === 3 ? 3 : 3 + parseSignedOffset(value.slice(3));
  if (value[0] === '+' || value[0] === '-') return parseSignedOffset(value);
  let nUpper = 0;
  while (nUpper < 6 && nUpper < value.length && value[nUpper]! >= 'A' && value[nUpper]! <= 'Z') nUpper++;
  if (nUpper === 3) return 3;
  if (nUpper === 4 && (value[3] === 'T' || value.startsWith('WITA'))) return 4;
  if (nUpper === 5 && value[4] === 'T') return 5;
  return 0;
}

export const commaOrPeriod = (c: string | undefined) => c === '.' || c === ',';

/** Go's parseNanoseconds: value[0] is the separator, then nbytes-1 digits (at most 9 read). */
export function parseNanoseconds(value: string, nbytes: number): { ns: number; range?: string } | Bad {
  if (!commaOrPeriod(value[0])) return BAD;
  if (nbytes > 10) nbytes = 10;
  const ns = atoi(value.slice(1, nbytes));
  if (ns === BAD) return BAD;
  if (ns < 0) return { ns, range: 'fractional second' };
  return { ns: ns * 10 ** (10 - nbytes) };
}

/** A numeric zone offset ("-0700", "Z07:00", …) at the start of value. */
export function readOffset(code: number, value: string): { offset: number; rest: string; range: string; badSign: boolean } | Bad {
  let parts: [string, string, string, string, string];
  if (code === Std.ISO8601ColonTZ || code === Std.NumColonTZ) {
    if (value.length < 6 || value[3] !== ':') return BAD;
    parts = [value.slice(0, 1), value.slice(1, 3), value.slice(4, 6), '00', value.slice(6)];
  } else if (code === Std.NumShortTZ || code === Std.ISO8601ShortTZ) {
    if (value.length < 3) return BAD;
    parts = [value.slice(0, 1), value.slice(1, 3), '00', '00', value.slice(3)];
  } else if (code === Std.ISO8601ColonSecondsTZ || code === Std.NumColonSecondsTZ) {
    if (value.length < 9 || value[3] !== ':' || value[6] !== ':') return BAD;
    parts = [value.slice(0, 1), value.slice(1, 3), value.slice(4, 6), value.slice(7, 9), value.slice(9)];
  } else if (code === Std.ISO8601SecondsTZ || code === Std.NumSecondsTz) {
    if (value.length < 7) return BAD;
    parts = [value.slice(0, 1), value.slice(1, 3), value.slice(3, 5), value.slice(5, 7), value.slice(7)];
  } else {
    if (value.length < 5) return BAD;
    parts = [value.slice(0, 1), value.slice(1, 3), value.slice(3, 5), '00', value.slice(5)];
  }
  const [sign, hh, mm, ss, rest] = parts;
  // Go reads hours, then minutes, then seconds, stopping at the first bad field (later ones stay 0).
  let hr = 0;
  let mi = 0;
  let se = 0;
  let bad = false;
  const h = getnum(hh, true);
  if (h === BAD) bad = true;
  else {
    hr = h[0];
    const m = getnum(mm, true);
    if (m === BAD) bad = true;
    else {
      mi = m[0];
      const s = getnum(ss, true);
      if (s === BAD) bad = true;
      else se = s[0];
    }
  }
  let range = '';
  if (hr > 24) range = 'time zone offset hour';
  if (mi > 60) range = 'time zone offset minute';
  if (se > 60) range = 'time zone offset second';
  let offset = (hr * 60 + mi) * 60 + se;
  if (sign === '-') offset = -offset;
  return { offset, rest, range, badSign: bad || (sign !== '+' && sign !== '-') };
}
