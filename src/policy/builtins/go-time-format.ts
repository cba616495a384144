/**
 * Go's Time.Format (go1.26 format.go, appendFormat) for time.format: every layout element, the
 * zone abbreviation from the location's data, "Z" for a zero offset in the ISO 8601 forms.
 */
import { type GoTime, wallClock, weekdayOfDays, yearDay } from './go-time-date.js';
import {
  digitsLen, formatInt, fromBytes, layoutChunks, LONG_DAY_NAMES, LONG_MONTH_NAMES, separator, Std, STD_MASK, toBytes,
} from './go-time-layout.js';

/** Go's appendNano: the fractional second of a FracSecond0/FracSecond9 element. */
function formatNano(nanosec: number, std: number): string {
  const trim = (std & STD_MASK) === Std.FracSecond9;
  const n = digitsLen(std);
  if (trim && (n === 0 || nanosec === 0)) return '';
  const dot = separator(std);
  let out = dot + formatInt(nanosec, 9).slice(0, Math.min(n, 9));
  if (trim) {
    out = out.replace(/0+$/, '');
    if (out === dot) out = '';
  }
  return out;
}

/** A numeric zone offset element ("-0700", "Z07:00", …). */
function formatOffset(std: number, offset: number): string {
  const iso = std === Std.ISO8601TZ || std === Std.ISO8601ColonTZ || std === Std.ISO8601SecondsTZ
    || std === Std.ISO8601ShortTZ || std === Std.ISO8601ColonSecondsTZ;
  if (offset === 0 && iso) return 'Z';
  let zone = Math.trunc(offset / 60); // minutes
  let absoffset = offset;
  let out = '+';
  if (zone < 0) {
    out = '-';
    zone = -zone;
    absoffset = -absoffset;
  }
  out += formatInt(Math.trunc(zone / 60), 2);
  const colon = std === Std.ISO8601ColonTZ || std === Std.NumColonTZ || std === Std.ISO8601ColonSecondsTZ || std === Std.NumColonSecondsTZ;
  if (colon) out += ':';
  if (std !== Std.NumShortTZ && std !== Std.ISO8601ShortTZ) out += formatInt(zone % 60, 2);
  if (std === Std.ISO8601SecondsTZ || std === Std.NumSecondsTz || std === Std.NumColonSecondsTZ || std === Std.ISO8601ColonSecondsTZ) {
    if (std === Std.NumColonSecondsTZ || std === Std.ISO8601ColonSecondsTZ) out += ':';
    out += formatInt(absoffset % 60, 2);
  }
  return out;
}

/** Go's t.Format(layout). */
export function formatTime(t: GoTime, layoutText: string): string {
  const w = wallClock(t);
  let out = '';
  for (const { prefix, std } of layoutChunks(toBytes(layoutText))) {
    out += prefix;
    if (std === 0) break;
    switch (std & STD_MASK) {
      case Std.Year:
        out += formatInt(Math.abs(w.year) % 100, 2);
        break;
      case Std.LongYear:
        out += formatInt(w.year, 4);
        break;
      case Std.Month:
        out += LONG_MONTH_NAMES[w.month - 1]!.slice(0, 3);
        break;
      case Std.LongMonth:
        out += LONG_MONTH_NAMES[w.month - 1]!;
        break;
      case Std.NumMonth:
        out += formatInt(w.month, 0);
        break;
      case Std.ZeroMonth:
        out += formatInt(w.month, 2);
        break;
      case Std.WeekDay:
        out += LONG_DAY_NAMES[weekdayOfDays(w.days)]!.slice(0, 3);
        break;
      case Std.LongWeekDay:
        out += LONG_DAY_NAMES[weekdayOfDays(w.days)]!;
        break;
      case Std.Day:
        out += formatInt(w.day, 0);
        break;
      case Std.UnderDay:
        out += (w.day < 10 ? ' ' : '') + formatInt(w.day, 0);
        break;
      case Std.ZeroDay:
        out += formatInt(w.day, 2);
        break;
      case Std.UnderYearDay: {
        const yday = yearDay(w);
        out += (yday < 10 ? '  ' : yday < 100 ? ' ' : '') + formatInt(yday, 0);
        break;
      }
      case Std.ZeroYearDay:
        out += formatInt(yearDay(w), 3);
        break;
      case Std.Hour:
        out += formatInt(w.hour, 2);
        break;
      case Std.Hour12:
        out += formatInt(w.hour % 12 === 0 ? 12 : w.hour % 12, 0);
        break;
      case Std.ZeroHour12:
        out += formatInt(w.hour % 12 === 0 ? 12 : w.hour % 12, 2);
        break;
      case Std.Minute:
        out += formatInt(w.minute, 0);
        break;
      case Std.ZeroMinute:
        out += formatInt(w.minute, 2);
        break;
      case Std.Second:
        out += formatInt(w.second, 0);
        break;
      case Std.ZeroSecond:
        out += formatInt(w.second, 2);
        break;
      case Std.PM:
        out += w.hour >= 12 ? 'PM' : 'AM';
        break;
      case Std.pm:
        out += w.hour >= 12 ? 'pm' : 'am';
        break;
      case Std.TZ:
        if (w.zoneName !== '') {
          out += w.zoneName;
        } else {
          // No abbreviation known: Go prints the -0700 form (minutes only).
          const zone = Math.trunc(w.offset / 60);
          out += (zone < 0 ? '-' : '+') + formatInt(Math.trunc(Math.abs(zone) / 60), 2) + formatInt(Math.abs(zone) % 60, 2);
        }
        break;
      case Std.FracSecond0:
      case Std.FracSecond9:
        out += formatNano(t.nsec, std);
        break;
      default:
        out += formatOffset(std, w.offset);
    }
  }
  return fromBytes(out);
}
