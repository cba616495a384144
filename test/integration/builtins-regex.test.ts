/**
 * regex.* host builtins against `opa eval`: RE2-only syntax, Unicode, anchors and empty matches
 * (Go's rules for find/split/replace), templates and glob intersections. One opa eval for all.
 */
import { describe, expect, it } from 'vitest';
import { expectSameAsOpa, type BuiltinCase } from '../support/builtin-oracle.js';
import { pickOne, seededRandom } from '../support/seeded-random.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

const PATTERNS = [
  'a', 'a*', 'a+?', 'x*', '', '^', '$', '^$', '\\b', '\\B', '(?i)abc', '(?i)é', '\\z', '\\A', '(?m)^a', '(?m)$', '(?s).',
  '.', '[[:alpha:]]+', '[[:^digit:]]+', '[[:word:]]', '\\pL+', '\\p{Greek}+', '\\PL', '\\p{Lu}', '\\d+', '\\D', '\\s+', '\\w+',
  '(a)(b)?', '(?P<first>\\w)(?P<rest>\\w*)', '(?<name>[a-z]+)', '\\Q.*\\E', '(?U)a+', '(?U)a+?', 'a{2,3}', 'a{2,}', 'a|ab', 'ab|a',
  '[^a]', '[a-c]+', '\\x{65}', '\\x41', '\\101', '\\.', '[\\-]', 'é+', '日本', '[日本]', '.?', '(|a)', '(a|)', 'b*|c',
  '(?i)STRASSE', '\\C', '(?<=a)b', '(a)\\1', 'a**', '(', '[z-a]', 'x{1001}', '\\8', '(a{500}){500}', '(((a{10}){10}){10}){10}', '(\\pL{100}){10}', '(?P<n>a)(?P<n>b)', '[(?P<n>]\\Q(?P<n>\\E(?P<n>x)', '[[:foo:]]',
];

const SUBJECTS = ['', 'a', 'aaa', 'baaac', 'abab', 'abc ABC', 'Straße', 'é日本語é', 'line1\nline2\na', 'αβγ δ', 'a.b.c', '  x  y  ', 'ab\r\nab', '𝄞a𝄞'];

function cases(): BuiltinCase[] {
  const out: BuiltinCase[] = [];
  for (const p of PATTERNS) {
    for (const s of SUBJECTS) {
      out.push({ builtin: 'regex.find_n', args: [p, s, -1] });
      out.push({ builtin: 'regex.split', args: [p, s] });
      out.push({ builtin: 'regex.replace', args: [s, p, '<$0>'] });
    }
    out.push({ builtin: 'regex.find_n', args: [p, 'aaa bbb aaa', 2] });
    out.push({ builtin: 'regex.find_n', args: [p, 'aaa', 0] });
  }
  const templates = ['$1', '${1}x', '$1x', '$first-$rest', '${first}', '$$1', '$', '$9', '$0', '$01', '${', '${1', '$ä', '$name$', '\\1'];
  for (const t of templates) {
    out.push({ builtin: 'regex.replace', args: ['hello world', '(?P<first>\\w)(?P<rest>\\w*)', t] });
    out.push({ builtin: 'regex.replace', args: ['abc', '(a)(x)?', t] });
    out.push({ builtin: 'regex.replace', args: ['ab', '(?P<n>a)|(?P<n>b)', `${t}$n`] });
  }
  out.push({ builtin: 'regex.find_n', args: ['a', 'aaa', 1.5] });
  out.push({ builtin: 'regex.find_n', args: ['a', 'aaa', 12345678901234567890n] });
  out.push({ builtin: 'regex.split', args: [1, 'a'] });

  const tmpl: [string, string, string, string][] = [
    ['urn:foo:{.*}', 'urn:foo:bar:baz', '{', '}'],
    ['urn:foo:{.*}', 'urn:foo.bar.com:bar:baz', '{', '}'],
    ['urn:foo:<[0-9]{2,10}>', 'urn:foo:123', '<', '>'],
    ['urn:foo:<[0-9]{2,10}>', 'urn:foo:1', '<', '>'],
    ['urn:foo:{[0-9]{2,10}}', 'urn:foo:1234', '{', '}'],
    ['urn:foo:{.*', 'urn:foo:x', '{', '}'],
    ['urn:foo:.*}', 'urn:foo:x', '{', '}'],
    ['a.b:{[a-z]+}:c', 'a.b:xyz:c', '{', '}'],
    ['a.b:{[a-z]+}:c', 'aXb:xyz:c', '{', '}'],
    ['x{(}y', 'x(y', '{', '}'],
    ['x<a>y<b+>', 'xaybbb', '<', '>'],
    ['plain', 'plain', '<', '>'],
    ['é{é+}', 'ééé', '{', '}'],
    ['x{a}', 'xa', '{{', '}'],
    ['x{a}', 'xa', 'é', '}'],
  ];
  for (const args of tmpl) out.push({ builtin: 'regex.template_match', args });

  const globs = [
    'a', 'a+', 'a*', '.*', '.+', 'ab*', 'a.c', '[a-c]', '[a-c]+d', '[^a]', 'a\\*', 'a\\', '[a-', ']', '*a', 'a**', 'a*a+', 'xyz', 'x.*z',
    '[\\]]', '[a-c-e]', '[]', 'é.+', '[é-ë]', '', '.', 'a+b+', 'b*a*', '[c-a]', 'a[b]c*', '[a\\-z]',
  ];
  for (const g1 of globs) for (const g2 of globs) out.push({ builtin: 'regex.globs_match', args: [g1, g2] });
  return out;
}

/** Random RE2 patterns (classes, anchors, groups, alternation, greedy and lazy repeats, flags) over random subjects, random glob pairs and random templates. */
function randomCases(count: number): BuiltinCase[] {
  const next = seededRandom(1129);
  const atoms = ['a', 'b', 'é', '日', '.', '[ab]', '[^a]', '\\d', '\\w', '\\s', '\\pL', '[[:alpha:]]', '^', '$', '\\b', '\\A', '\\z', 'A', '\\n', '(?i)a', '[é-ë]', '\\x{65e5}'];
  const quantifiers = ['', '', '*', '+', '?', '{1,2}', '*?', '+?', '??', '{0,3}?'];
  const flags = ['', '', '', '(?i)', '(?s)', '(?m)', '(?U)', '(?is)'];
  const atom = (depth: number): string => {
    const r = next();
    if (depth < 2 && r < 0.15) return `(${pattern(depth + 1)})`;
    if (depth < 2 && r < 0.22) return `(?:${pattern(depth + 1)}|${pattern(depth + 1)})`;
    if (depth < 2 && r < 0.26) return `(?P<g${Math.floor(next() * 3)}>${pattern(depth + 1)})`;
    return pickOne(next, atoms);
  };
  const pattern = (depth: number): string =>
    Array.from({ length: 1 + Math.floor(next() * 3) }, () => atom(depth) + pickOne(next, quantifiers)).join('');
  const alphabet = ['a', 'A', 'b', ' ', 'é', '日', '\n', '1', '_', 'aa', 'ab'];
  const out: BuiltinCase[] = [];
  for (let i = 0; i < count; i++) {
    const p = pickOne(next, flags) + pattern(0);
    const subject = Array.from({ length: Math.floor(next() * 9) }, () => pickOne(next, alphabet)).join('');
    out.push({ builtin: 'regex.find_n', args: [p, subject, next() < 0.8 ? -1 : Math.floor(next() * 3)] });
    out.push({ builtin: 'regex.split', args: [p, subject] });
    out.push({ builtin: 'regex.replace', args: [subject, p, pickOne(next, ['<$0>', '[$1]', '${g1}-', '$$', ''])] });
    const glob = () =>
      Array.from({ length: Math.floor(next() * 5) }, () => pickOne(next, ['a', 'b', '.', '[ab]', '[b-d]', '\\*', 'é']) + pickOne(next, ['', '', '+', '*'])).join('');
    out.push({ builtin: 'regex.globs_match', args: [glob(), glob()] });
    const [open, close] = pickOne(next, [['{', '}'], ['<', '>'], ['(', ')'], ['[', ']'], ['|', '|']] as const);
    const template = Array.from({ length: 1 + Math.floor(next() * 3) }, () =>
      next() < 0.5 ? pickOne(next, ['urn:', 'a.b', 'é', '*', '?', 'x']) : `${open}${pattern(1)}${close}`).join('');
    out.push({ builtin: 'regex.template_match', args: [template, subject, open, close] });
  }
  return out;
}

describe.skipIf(tool.skip)('regex builtins match opa eval', () => {
  it('agrees on random RE2 patterns and subjects', () => {
    expectSameAsOpa(tool.opa, randomCases(1000), { minDefined: 0.9 });
  }, 60_000);

  it('finds, splits, replaces, matches templates and intersects globs exactly as OPA', () => {
    const all = cases();
    expectSameAsOpa(tool.opa, all, { minDefined: 0.6, someUndefined: true });
  }, 60_000);
});
