/**
 * yaml.* host builtins against `opa eval`: go-yaml v2's YAML 1.1 scalar resolution (booleans,
 * octal, hex, underscores, timestamps, out-of-range floats), merge keys, anchors, tags, duplicate
 * keys, multi-document input; yaml.marshal's key order and quoting. One opa eval for all.
 */
import { describe, it } from 'vitest';
import type { RegoValue } from '../../src/policy/builtins/types.js';
import { expectSameAsOpa, type BuiltinCase } from '../support/builtin-oracle.js';
import { pickOne, seededRandom } from '../support/seeded-random.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

const DOCS = [
  'a: 1', 'yes', 'on', 'y', 'Off', 'NO', '~', 'null', 'Null', 'NULL', '0777', '0o17', '0x1F', '0X1f', '0b101', '-0b101', '1_000', '1:20', '2001-12-14',
  '2001-12-14t21:59:43.10-05:00', '.inf', '-.Inf', '.nan', '1e3', '1.0', '+1', '+1.5', '-.5', '.5', '5.', '08', '09.5', "'x'", '"\\u00e9"',
  'a: [1, 2]\nb: {c: d}', '- a\n- b', '<<: {a: 1}\nb: 2', 'b: 2\n<<: {a: 1, b: 3}', '<<: [{a: 1}, {c: 3}]\nd: 4', 'base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2',
  'a: &x 1\nb: *x', 'a: *nope', 'a: b: c', '{', '[1, 2', 'a: 1\na: 2', '? [1, 2]\n: x', '1: one\n2: two', '1.5: x', 'true: x', '~: x', '.inf: x',
  '---\na: 1\n---\nb: 2', '', '# c', '---', 'a: |\n  line1\n  line2\n', 'a: >\n  folded\n  text\n', '!!binary aGVsbG8=', '!!str 1', '!!int "1"', '!!int x',
  '!!float 1', '!custom x', '!custom 1', '12345678901234567890', '123456789012345678901234', '-9223372036854775809', '-0', '0.1e1', '1e400', '1e-400',
  '- [a, b]\n- {c: 1}', 'a:\n  - 1\n  -\n  - 3', 'key with spaces: value with spaces', '"quoted: key": 1', '\ttab', 'a: "\\t"', 'x: 1 # comment',
  'a: b\n  c: d', '- a\nb: c', '%YAML 1.1\n---\na: 1', 'é: ü', 'a: 0.0000001', 'a: 100000000000000000000', 'a: -1e21',
];

const LONG = 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega';

const VALUES: RegoValue[] = [
  { a: 1, b: [1, 2, { c: null }], B: true, a10: 1, a9: 2, _: 'x', a01: 3, a1: 4, 'é': 5, '1': 6, '10': 7, '2': 8, '': 9, ' ': 10 },
  'yes', 'no', 'on', 'y', 'n', 'true', 'null', 'Null', '~', '1', '1.5', '', ' lead', 'trail ', 'multi\nline', 'multi\nline\n', 'é', 'a: b', '- x', '#x',
  '@x', '`x', 'x #y', '0777', '0x1F', '1e3', '2001-12-14', '1:20', '190:20:30', '.5', '+1', [], {}, [[1, 2], [3]], [{ a: 1, b: 2 }], 1.5, 1e21,
  100000000, 0.000001, 1234567.5, 0.0001, 0.00001, -2.5e-7, 9007199254740993n as unknown as RegoValue, 'quote"s', "it's", { nested: { deeper: { k: [1] } } },
  'plain words', 'colon:inside', 'x: ', '- ', '?', '?x', ':x', '[x', '{x', '*x', '&x', '!x', '|x', '>x', "'x", '"x', '%x', 'x,y', 'a\\b',
  new Set(['b', 'a']) as RegoValue, [null, true, false],
  // long strings, folded by libyaml at column 80
  { k: LONG, list: [LONG, [LONG]], n: { deep: { x: LONG } }, q: `a: b ${LONG}`, t: `${LONG} ${LONG} ${LONG}`, m: `${LONG}\n${LONG}`, e: `${LONG}  double  spaces ` },
  LONG, [LONG], `'${LONG}'`, [{ key: LONG, other: [LONG] }], `x${'y'.repeat(100)} z`, { [LONG.slice(0, 60)]: LONG },
];

function cases(): BuiltinCase[] {
  const out: BuiltinCase[] = [];
  for (const d of [...DOCS, ...randomDocs()]) {
    out.push({ builtin: 'yaml.is_valid', args: [d] });
    out.push({ builtin: 'yaml.unmarshal', args: [d] });
  }
  out.push({ builtin: 'yaml.is_valid', args: [1] });
  for (const v of [...VALUES, ...randomValues()]) out.push({ builtin: 'yaml.marshal', args: [v] });
  return out;
}

/** Seeded random documents from YAML lines: mappings, sequences, flow collections, anchors, tags, scalars. */
function randomDocs(): string[] {
  const rand = seededRandom(0x646f6373);
  const scalars = ['1', '0x1F', '1.5', 'yes', 'no', '~', 'null', '"q"', "'s'", 'text', '2001-01-01', '1e3', '.inf', '!!str 5', '&a 1', '*a', '[1, 2]', '{k: v}', '', '-1', '0777', '1_0'];
  const keys = ['a', 'b', '1', 'yes', '~', '"k"', '? x', '<<', '1.5'];
  const line = (indent: string) => {
    const r = rand();
    if (r < 0.45) return `${indent}${pickOne(rand, keys)}: ${pickOne(rand, scalars)}`;
    if (r < 0.7) return `${indent}- ${pickOne(rand, scalars)}`;
    if (r < 0.85) return `${indent}${pickOne(rand, keys)}:`;
    return `${indent}${pickOne(rand, scalars)}`;
  };
  return Array.from({ length: 1000 }, () =>
    Array.from({ length: 1 + Math.floor(rand() * 6) }, () => line(pickOne(rand, ['', '', '  ', '    ']))).join('\n'),
  );
}

/** Seeded random short strings (YAML indicators, quotes, spaces, digits) and small nested values. */
function randomValues(): RegoValue[] {
  const rand = seededRandom(0x79616d6c);
  const pieces = ['a', 'Z', '1', '0', '.', '-', ':', ' ', '#', "'", '"', '?', '!', '&', '*', '[', ']', '{', '}', ',', '|', '>', '%', '@', '`', 'é', 'yes', 'null', '~', 'e', '+', '_'];
  const text = () =>
    rand() < 0.1
      ? Array.from({ length: 20 + Math.floor(rand() * 40) }, () => pickOne(rand, ['word', 'a', 'longerword', ' ', ' ', 'x-y', ':', "'"])).join('')
      : Array.from({ length: Math.floor(rand() * 9) }, () => pickOne(rand, pieces)).join('');
  const value = (depth: number): RegoValue => {
    const r = rand();
    if (depth > 2 || r < 0.5) return pickOne(rand, [text(), text(), 1, -2.5, true, null, 1e-7]);
    if (r < 0.75) return Array.from({ length: Math.floor(rand() * 3) }, () => value(depth + 1));
    const o: Record<string, RegoValue> = {};
    // (keys stay short: libyaml writes keys over 128 bytes in the explicit `? key` form, the yaml package does not)
    for (let i = 0; i < Math.floor(rand() * 3); i++) o[text().slice(0, 40)] = value(depth + 1);
    return o;
  };
  return Array.from({ length: 1000 }, () => value(0));
}

describe.skipIf(tool.skip)('yaml.* against opa eval', () => {
  it('gives the results OPA gives', () => {
    expectSameAsOpa(tool.opa, cases(), { minDefined: 0.5, someUndefined: true });
  }, 60_000);
});
