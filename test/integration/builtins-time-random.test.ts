/**
 * time.* host builtins against `opa eval` on generated inputs (a fixed seed, so a failure repeats):
 * every IANA zone ICU knows, instants spread over the whole int64 range of nanoseconds, layouts
 * assembled from random Go layout elements and literals, parsing of what those layouts print (and
 * of damaged copies), durations built from random segments. One opa eval per test.
 */
import { describe, expect, it } from 'vitest';
import { differences, evaluateBoth, type BuiltinCase } from '../support/builtin-oracle.js';
import { opaOrSkip } from '../support/tools.js';
import { pickOne as pick, seededRandom as random } from '../support/seeded-random.js';
import { formatTime } from '../../src/policy/builtins/go-time-format.js';
import { fromUnixNano } from '../../src/policy/builtins/go-time-date.js';
import { loadLocation } from '../../src/policy/builtins/go-time-zone-load.js';

const tool = opaOrSkip();

const ZONES = [...Intl.supportedValuesOf('timeZone'), 'US/Eastern', 'Asia/Calcutta', 'GB', 'Etc/GMT-14', 'Etc/GMT+12', 'CET', 'MST7MDT', 'Local', ''];
const ELEMENTS = [
  'Mon', 'Monday', 'Jan', 'January', '01', '1', '_2', '02', '2', '__2', '002', '15', '3', '03', '4', '04', '5', '05', '2006', '06', 'PM', 'pm',
  'MST', 'Z0700', 'Z07:00', 'Z07', 'Z070000', 'Z07:00:00', '-07', '-0700', '-07:00', '-070000', '-07:00:00', '.000', '.999999999', ',000', '.99', '.0',
];
const LITERALS = [' ', '-', ':', 'T', '/', ', ', '  ', 'at ', 'x', '(', ')', 'é', 'Month', 'Janu', 'MSTx', '_', '__', 'Z', '.', ',', 'pmx', '7', '8'];

/** An instant: mostly 1900..2100, some anywhere in int64. */
function instant(rand: () => number): bigint {
  const span = rand() < 0.8 ? 200 * 365.25 * 86400 : 292 * 365.25 * 86400;
  const base = rand() < 0.8 ? -70 * 365.25 * 86400 : -span / 2;
  const sec = BigInt(Math.floor(base + rand() * span));
  const ns = sec * 1_000_000_000n + BigInt(Math.floor(rand() * 1e9));
  return ns < -(2n ** 63n) ? -(2n ** 63n) : ns > 2n ** 63n - 1n ? 2n ** 63n - 1n : ns;
}

function layout(rand: () => number): string {
  const n = 1 + Math.floor(rand() * 6);
  let out = '';
  for (let i = 0; i < n; i++) out += (rand() < 0.3 ? pick(rand, LITERALS) : '') + pick(rand, ELEMENTS) + (rand() < 0.5 ? ' ' : '');
  return out;
}

describe.skipIf(tool.skip)('time builtins match opa eval on generated inputs', () => {
  it('formats, reads the calendar and adds dates in every zone', () => {
    const rand = random(20261129);
    const all: BuiltinCase[] = [];
    for (const zone of ZONES) {
      for (let i = 0; i < 4; i++) {
        const t = [instant(rand), zone];
        all.push({ builtin: 'time.format', args: [[...t, layout(rand)]] });
        all.push({ builtin: pick(rand, ['time.date', 'time.clock', 'time.weekday']), args: [t] });
      }
      all.push({ builtin: 'time.add_date', args: [[instant(rand), zone], Math.floor(rand() * 40) - 20, Math.floor(rand() * 40) - 20, Math.floor(rand() * 800) - 400] });
      all.push({ builtin: 'time.diff', args: [[instant(rand), zone], [instant(rand), pick(rand, ZONES)]] });
    }
    const both = evaluateBoth(tool.opa, all);
    expect(differences(all, both)).toEqual([]);
    expect(both.opa.filter((v) => v !== undefined).length).toBeGreaterThan(all.length * 0.95);
  }, 60_000);

  it('parses what Go layouts print, and damaged copies of it', () => {
    const rand = random(7);
    const all: BuiltinCase[] = [];
    for (let i = 0; i < 1500; i++) {
      const l = layout(rand);
      const zone = pick(rand, ['UTC', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', 'Europe/London']);
      let text = formatTime(fromUnixNano(instant(rand), loadLocation(zone)), l);
      if (rand() < 0.3) {
        const at = Math.floor(rand() * (text.length + 1));
        text = text.slice(0, at) + pick(rand, ['', '0', '9', ' ', 'x', '.5', '-']) + text.slice(at + 1);
      }
      all.push({ builtin: 'time.parse_ns', args: [l, text] });
    }
    const both = evaluateBoth(tool.opa, all);
    expect(differences(all, both)).toEqual([]);
    expect(both.opa.filter((v) => v !== undefined).length).toBeGreaterThan(150);
    expect(both.opa.filter((v) => v === undefined).length).toBeGreaterThan(300);
  }, 60_000);

  it('parses generated durations', () => {
    const rand = random(42);
    const units = ['ns', 'us', 'µs', 'ms', 's', 'm', 'h', 'd', 'w', 'y', 'x', ''];
    const all: BuiltinCase[] = [];
    for (let i = 0; i < 1500; i++) {
      let text = pick(rand, ['', '', '-', '+']);
      const segments = 1 + Math.floor(rand() * 4);
      for (let s = 0; s < segments; s++) {
        const digits = String(Math.floor(rand() * 10 ** Math.floor(rand() * 8)));
        const frac = rand() < 0.3 ? `.${String(Math.floor(rand() * 1e6))}` : rand() < 0.05 ? '.' : '';
        text += `${rand() < 0.05 ? '' : digits}${frac}${pick(rand, units)}`;
      }
      all.push({ builtin: 'time.parse_duration_ns', args: [text] });
    }
    const both = evaluateBoth(tool.opa, all);
    expect(differences(all, both)).toEqual([]);
    expect(both.opa.filter((v) => v !== undefined).length).toBeGreaterThan(300);
  }, 60_000);
});
