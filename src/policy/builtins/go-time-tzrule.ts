/**
 * POSIX TZ strings (the footer of a TZif file, e.g. "EST5EDT,M3.2.0,M11.1.0"), evaluated as Go's
 * tzset does (go1.26 zoneinfo.go: tzset, tzsetName, tzsetOffset, tzsetRule, tzruleTime): the zone
 * in effect after a location's last listed transition. POSIX.1-2017, 8.3 (TZ).
 */
import { civilFromDays, daysBefore, daysIn, isLeap, SECONDS_PER_DAY, yearDay } from './go-time-date.js';
import type { Zone } from './go-time-zone.js';

interface Rule {
  kind: 'julian' | 'doy' | 'mwd';
  day: number;
  week: number;
  mon: number;
  time: number;
}

/** A cursor over a TZ string, as Go's tzset helpers consume it. */
class TzCursor {
  constructor(public s: string) {}

  name(): string | undefined {
    const s = this.s;
    if (s === '') return undefined;
    if (s[0] !== '<') {
      const i = s.search(/[0-9,+-]/);
      if (i === -1) {
        if (s.length < 3) return undefined;
        this.s = '';
        return s;
      }
      if (i < 3) return undefined;
      this.s = s.slice(i);
      return s.slice(0, i);
    }
    const end = s.indexOf('>');
    if (end === -1) return undefined;
    this.s = s.slice(end + 1);
    return s.slice(1, end);
  }

  num(min: number, max: number): number | undefined {
    const m = /^[0-9]+/.exec(this.s);
    if (!m) return undefined;
    let num = 0;
    for (const c of m[0]) {
      num = num * 10 + Number(c);
      if (num > max) return undefined;
    }
    if (num < min) return undefined;
    this.s = this.s.slice(m[0].length);
    return num;
  }

  offset(): number | undefined {
    if (this.s === '') return undefined;
    const neg = this.s[0] === '-';
    if (this.s[0] === '+' || neg) this.s = this.s.slice(1);
    const hours = this.num(0, 24 * 7);
    if (hours === undefined) return undefined;
    let off = hours * 3600;
    for (const unit of [60, 1]) {
      if (this.s[0] !== ':') break;
      this.s = this.s.slice(1);
      const n = this.num(0, 59);
      if (n === undefined) return undefined;
      off += n * unit;
    }
    return neg ? -off : off;
  }

  rule(): Rule | undefined {
    const r: Rule = { kind: 'doy', day: 0, week: 0, mon: 0, time: 2 * 3600 };
    if (this.s[0] === 'J') {
      this.s = this.s.slice(1);
      const day = this.num(1, 365);
      if (day === undefined) return undefined;
      Object.assign(r, { kind: 'julian', day });
    } else if (this.s[0] === 'M') {
      this.s = this.s.slice(1);
      const mon = this.num(1, 12);
      if (mon === undefined || !this.#eat('.')) return undefined;
      const week = this.num(1, 5);
      if (week === undefined || !this.#eat('.')) return undefined;
      const day = this.num(0, 6);
      if (day === undefined) return undefined;
      Object.assign(r, { kind: 'mwd', day, week, mon });
    } else {
      const day = this.num(0, 365);
      if (day === undefined) return undefined;
      r.day = day;
    }
    if (this.#eat('/')) {
      const time = this.offset();
      if (time === undefined) return undefined;
      r.time = time;
    }
    return r;
  }

  #eat(c: string): boolean {
    if (this.s[0] !== c) return false;
    this.s = this.s.slice(1);
    return true;
  }
}

/** Go's tzset: the zone a POSIX TZ string gives at sec, or undefined if the string is malformed. */
export function tzset(tz: string, sec: number): Zone | undefined {
  const c = new TzCursor(tz);
  let stdName = c.name();
  let stdOffset = stdName === undefined ? undefined : c.offset();
  if (stdName === undefined || stdOffset === undefined) return undefined;
  stdOffset = 0 - stdOffset; // east of UTC (0 -, so never -0)
  if (c.s === '' || c.s[0] === ',') return { name: stdName, offset: stdOffset, isDST: false };

  let dstName = c.name();
  if (dstName === undefined) return undefined;
  let dstOffset: number | undefined;
  if (c.s === '' || c.s[0] === ',') dstOffset = stdOffset + 3600;
  else {
    const o = c.offset();
    if (o === undefined) return undefined;
    dstOffset = 0 - o;
  }
  if (c.s === '') c.s = ',M3.2.0,M11.1.0';
  if (c.s[0] !== ',' && c.s[0] !== ';') return undefined;
  c.s = c.s.slice(1);
  const startRule = c.rule();
  if (!startRule || c.s[0] !== ',') return undefined;
  c.s = c.s.slice(1);
  const endRule = c.rule();
  if (!endRule || c.s !== '') return undefined;

  const days = Math.floor(sec / SECONDS_PER_DAY);
  const date = civilFromDays(days);
  const ysec = (yearDay(date) - 1) * SECONDS_PER_DAY + (sec % SECONDS_PER_DAY); // Go's truncating %
  let startSec = tzruleTime(date.year, startRule, stdOffset);
  let endSec = tzruleTime(date.year, endRule, dstOffset);
  let dstIsDST = true;
  let stdIsDST = false;
  if (endSec < startSec) {
    [startSec, endSec] = [endSec, startSec];
    [stdName, dstName] = [dstName, stdName];
    [stdOffset, dstOffset] = [dstOffset, stdOffset];
    [stdIsDST, dstIsDST] = [dstIsDST, stdIsDST];
  }
  if (ysec < startSec || ysec >= endSec) return { name: stdName, offset: stdOffset, isDST: stdIsDST };
  return { name: dstName, offset: dstOffset, isDST: dstIsDST };
}

/** Go's tzruleTime: seconds into the year (local standard time) at which a rule takes effect. */
function tzruleTime(year: number, r: Rule, off: number): number {
  let s: number;
  if (r.kind === 'julian') {
    s = (r.day - 1) * SECONDS_PER_DAY + (isLeap(year) && r.day >= 60 ? SECONDS_PER_DAY : 0);
  } else if (r.kind === 'doy') {
    s = r.day * SECONDS_PER_DAY;
  } else {
    // Zeller's congruence for the weekday of the month's first day, with Go's truncating division.
    const m1 = ((r.mon + 9) % 12) + 1;
    const yy0 = r.mon <= 2 ? year - 1 : year;
    const yy1 = Math.trunc(yy0 / 100);
    const yy2 = yy0 % 100;
    let dow = (Math.trunc((26 * m1 - 2) / 10) + 1 + yy2 + Math.trunc(yy2 / 4) + Math.trunc(yy1 / 4) - 2 * yy1) % 7;
    if (dow < 0) dow += 7;
    let d = r.day - dow;
    if (d < 0) d += 7;
    for (let i = 1; i < r.week; i++) {
      if (d + 7 >= daysIn(r.mon, year)) break;
      d += 7;
    }
    d += daysBefore(r.mon);
    if (isLeap(year) && r.mon > 2) d++;
    s = d * SECONDS_PER_DAY;
  }
  return s + r.time - off;
}
