/**
 * Go's reference-time layouts ("2006-01-02T15:04:05Z07:00"), as Go's time package tokenises them
 * (go1.26 format.go, nextStdChunk): the layout elements shared by time.format and time.parse_ns.
 * Go works on the layout's UTF-8 bytes; so does this module, on "byte strings" (one char per byte,
 * see toBytes/fromBytes), so every length and index matches Go's.
 */
import { BoundedMemo } from './bounded-memo.js';

export const STD_NEED_DATE = 1 << 8;
export const STD_NEED_YDAY = 1 << 9;
export const STD_NEED_CLOCK = 1 << 10;
const STD_ARG_SHIFT = 16;
const STD_SEPARATOR_SHIFT = 28;
export const STD_MASK = (1 << STD_ARG_SHIFT) - 1;

/** Go's std codes (the iota values of format.go's const block). */
export const Std = {
  LongMonth: 1 + STD_NEED_DATE, // "January"
  Month: 2 + STD_NEED_DATE, // "Jan"
  NumMonth: 3 + STD_NEED_DATE, // "1"
  ZeroMonth: 4 + STD_NEED_DATE, // "01"
  LongWeekDay: 5 + STD_NEED_DATE, // "Monday"
  WeekDay: 6 + STD_NEED_DATE, // "Mon"
  Day: 7 + STD_NEED_DATE, // "2"
  UnderDay: 8 + STD_NEED_DATE, // "_2"
  ZeroDay: 9 + STD_NEED_DATE, // "02"
  UnderYearDay: 10 + STD_NEED_YDAY, // "__2"
  ZeroYearDay: 11 + STD_NEED_YDAY, // "002"
  Hour: 12 + STD_NEED_CLOCK, // "15"
  Hour12: 13 + STD_NEED_CLOCK, // "3"
  ZeroHour12: 14 + STD_NEED_CLOCK, // "03"
  Minute: 15 + STD_NEED_CLOCK, // "4"
  ZeroMinute: 16 + STD_NEED_CLOCK, // "04"
  Second: 17 + STD_NEED_CLOCK, // "5"
  ZeroSecond: 18 + STD_NEED_CLOCK, // "05"
  LongYear: 19 + STD_NEED_DATE, // "2006"
  Year: 20 + STD_NEED_DATE, // "06"
  PM: 21 + STD_NEED_CLOCK, // "PM"
  pm: 22 + STD_NEED_CLOCK, // "pm"
  TZ: 23, // "MST"
  ISO8601TZ: 24, // "Z0700"
  ISO8601SecondsTZ: 25, // "Z070000"
  ISO8601ShortTZ: 26, // "Z07"
  ISO8601ColonTZ: 27, // "Z07:00"
  ISO8601ColonSecondsTZ: 28, // "Z07:00:00"
  NumTZ: 29, // "-0700"
  NumSecondsTz: 30, // "-070000"
  NumShortTZ: 31, // "-07"
  NumColonTZ: 32, // "-07:00"
  NumColonSecondsTZ: 33, // "-07:00:00"
  FracSecond0: 34, // ".0", ".00", … trailing zeros kept
  FracSecond9: 35, // ".9", ".99", … trailing zeros dropped
} as const;

const STD_0X = [Std.ZeroMonth, Std.ZeroDay, Std.ZeroHour12, Std.ZeroMinute, Std.ZeroSecond, Std.Year];

/** The layout constants OPA accepts by name (topdown/time.go acceptedTimeFormats). */
export const NAMED_LAYOUTS: ReadonlyMap<string, string> = new Map([
  ['ANSIC', 'Mon Jan _2 15:04:05 2006'],
  ['UnixDate', 'Mon Jan _2 15:04:05 MST 2006'],
  ['RubyDate', 'Mon Jan 02 15:04:05 -0700 2006'],
  ['RFC822', '02 Jan 06 15:04 MST'],
  ['RFC822Z', '02 Jan 06 15:04 -0700'],
  ['RFC850', 'Monday, 02-Jan-06 15:04:05 MST'],
  ['RFC1123', 'Mon, 02 Jan 2006 15:04:05 MST'],
  ['RFC1123Z', 'Mon, 02 Jan 2006 15:04:05 -0700'],
  ['RFC3339', '2006-01-02T15:04:05Z07:00'],
  ['RFC3339Nano', '2006-01-02T15:04:05.999999999Z07:00'],
]);
export const RFC3339 = '2006-01-02T15:04:05Z07:00';
export const RFC3339_NANO = '2006-01-02T15:04:05.999999999Z07:00';

export const LONG_DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
export const SHORT_DAY_NAMES = LONG_DAY_NAMES.map((d) => d.slice(0, 3));
export const LONG_MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
export const SHORT_MONTH_NAMES = LONG_MONTH_NAMES.map((m) => m.slice(0, 3));

const ASCII = /^[\x00-\x7f]*$/;

/** A JS string as its UTF-8 bytes, one char per byte. */
export function toBytes(s: string): string {
  return ASCII.test(s) ? s : Buffer.from(s, 'utf8').toString('latin1');
}

/** The inverse of toBytes. */
export function fromBytes(b: string): string {
  return ASCII.test(b) ? b : Buffer.from(b, 'latin1').toString('utf8');
}

export function isDigitAt(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 0x30 && c <= 0x39; // NaN past the end compares false
}

/** The number of digits of a fractional-second std value. */
export function digitsLen(std: number): number {
  return (std >>> STD_ARG_SHIFT) & 0xfff;
}

export function separator(std: number): string {
  return std >>> STD_SEPARATOR_SHIFT === 0 ? '.' : ',';
}

function fracSecond(code: number, n: number, c: string): number {
  const packed = code | ((n & 0xfff) << STD_ARG_SHIFT);
  return c === '.' ? packed : packed | (1 << STD_SEPARATOR_SHIFT);
}

function startsWithLowerCase(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 0x61 && c <= 0x7a;
}

export interface Chunk {
  prefix: string;
  std: number; // 0: no element left
  suffix: string;
}

/** Go's nextStdChunk: the text before the first layout element, the element, and the rest. */
export function nextStdChunk(layout: string): Chunk {
  const chunk = (i: number, std: number, len: number): Chunk => ({ prefix: layout.slice(0, i), std, suffix: layout.slice(i + len) });
  for (let i = 0; i < layout.length; i++) {
    switch (layout[i]) {
      case 'J':
        if (layout.startsWith('Jan', i)) {
          if (layout.startsWith('January', i)) return chunk(i, Std.LongMonth, 7);
          if (!startsWithLowerCase(layout, i + 3)) return chunk(i, Std.Month, 3);
        }
        break;
      case 'M':
        if (layout.startsWith('Mon', i)) {
          if (layout.startsWith('Monday', i)) return chunk(i, Std.LongWeekDay, 6);
          if (!startsWithLowerCase(layout, i + 3)) return chunk(i, Std.WeekDay, 3);
        }
        if (layout.startsWith('MST', i)) return chunk(i, Std.TZ, 3);
        break;
      case '0': {
        const next = layout.charCodeAt(i + 1);
        if (next >= 0x31 && next <= 0x36) return chunk(i, STD_0X[next - 0x31]!, 2);
        if (layout.startsWith('002', i)) return chunk(i, Std.ZeroYearDay, 3);
        break;
      }
      case '1':
        return layout.startsWith('15', i) ? chunk(i, Std.Hour, 2) : chunk(i, Std.NumMonth, 1);
      case '2':
        return layout.startsWith('2006', i) ? chunk(i, Std.LongYear, 4) : chunk(i, Std.Day, 1);
      case '_':
        if (layout[i + 1] === '2') {
          // "_2006" is a literal "_" followed by the year.
          if (layout.startsWith('2006', i + 1)) return { prefix: layout.slice(0, i + 1), std: Std.LongYear, suffix: layout.slice(i + 5) };
          return chunk(i, Std.UnderDay, 2);
        }
        if (layout.startsWith('__2', i)) return chunk(i, Std.UnderYearDay, 3);
        break;
      case '3':
        return chunk(i, Std.Hour12, 1);
      case '4':
        return chunk(i, Std.Minute, 1);
      case '5':
        return chunk(i, Std.Second, 1);
      case 'P':
        if (layout[i + 1] === 'M') return chunk(i, Std.PM, 2);
        break;
      case 'p':
        if (layout[i + 1] === 'm') return chunk(i, Std.pm, 2);
        break;
      case '-':
      case 'Z': {
        // "-070000", "-07:00:00", "-0700", "-07:00", "-07" and their "Z" forms, longest first.
        const iso = layout[i] === 'Z';
        for (const [text, num, isoStd] of OFFSET_ELEMENTS) {
          if (layout.startsWith(text, i + 1)) return chunk(i, iso ? isoStd : num, text.length + 1);
        }
        break;
      }
      case '.':
      case ',': {
        const ch = layout[i + 1];
        if (ch === '0' || ch === '9') {
          let j = i + 1;
          while (j < layout.length && layout[j] === ch) j++;
          // The digits must end here: only a fractional second is all digits.
          if (!isDigitAt(layout, j)) {
            const code = ch === '9' ? Std.FracSecond9 : Std.FracSecond0;
            return { prefix: layout.slice(0, i), std: fracSecond(code, j - (i + 1), layout[i]!), suffix: layout.slice(j) };
          }
        }
        break;
      }
    }
  }
  return { prefix: layout, std: 0, suffix: '' };
}

const OFFSET_ELEMENTS: readonly [string, number, number][] = [
  ['070000', Std.NumSecondsTz, Std.ISO8601SecondsTZ],
  ['07:00:00', Std.NumColonSecondsTZ, Std.ISO8601ColonSecondsTZ],
  ['0700', Std.NumTZ, Std.ISO8601TZ],
  ['07:00', Std.NumColonTZ, Std.ISO8601ColonTZ],
  ['07', Std.NumShortTZ, Std.ISO8601ShortTZ],
];

/** One element of a layout: the literal text before it, its std code (0 at the end) and its text. */
export interface LayoutChunk {
  prefix: string;
  std: number;
  text: string;
}

const chunkCache = new BoundedMemo<readonly LayoutChunk[]>(256, 64 * 1024);

/**
 * A layout (a byte string) as its chunks, the last one with std 0 and the trailing text. Memoised
 * (bounded in count and length): policies use a handful of layouts.
 */
export function layoutChunks(layout: string): readonly LayoutChunk[] {
  return chunkCache.get(layout, () => {
    const out: LayoutChunk[] = [];
    let rest = layout;
    for (;;) {
      const { prefix, std, suffix } = nextStdChunk(rest);
      out.push({ prefix, std, text: rest.slice(prefix.length, rest.length - suffix.length) });
      if (std === 0) break;
      rest = suffix;
    }
    return out;
  });
}

/** Go's appendInt: x in decimal, zero-padded to width digits (the sign not counted). */
export function formatInt(x: number, width: number): string {
  const digits = String(Math.abs(x)).padStart(width, '0');
  return x < 0 ? `-${digits}` : digits;
}
