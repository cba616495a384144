/**
 * The regex host builtins called directly: Go's RE2 semantics where a JavaScript RegExp differs,
 * Go's empty-match rules, templates and glob intersections. (test/integration/builtins-regex.test.ts
 * compares many more cases with `opa eval`.)
 */
import { describe, expect, it } from 'vitest';
import { globsIntersect } from '../../../src/policy/builtins/glob-intersection.js';
import { compileGoRegexp } from '../../../src/policy/builtins/re2.js';
import { regexBuiltins } from '../../../src/policy/builtins/regex.js';
import type { BuiltinContext, RegoValue } from '../../../src/policy/builtins/types.js';

const ctx = {} as BuiltinContext;
const call = (name: string, ...args: RegoValue[]) => regexBuiltins[name]!.fn(ctx, ...args);
const findN = (p: string, s: string, n = -1) => call('regex.find_n', p, s, n);
const split = (p: string, s: string) => call('regex.split', p, s);
const replace = (s: string, p: string, r: string) => call('regex.replace', s, p, r);

describe('regex.find_n', () => {
  it('speaks RE2, not JavaScript: inline flags, \\z, POSIX classes, Unicode classes', () => {
    expect(findN('(?i)abc', 'ABC abc')).toEqual(['ABC', 'abc']);
    expect(findN('[[:alpha:]]+', 'ab1cd')).toEqual(['ab', 'cd']);
    expect(findN('\\pL+', 'héllo wörld 42')).toEqual(['héllo', 'wörld']);
    expect(findN('a\\z', 'a\na')).toEqual(['a']);
    expect(findN('\\Q.*\\E', 'x.*y')).toEqual(['.*']);
    expect(findN('(?U)a+', 'aaa')).toEqual(['a', 'a', 'a']);
  });

  it('refuses what RE2 refuses (lookaround, backreferences) instead of matching like JavaScript', () => {
    expect(() => findN('(?<=a)b', 'ab')).toThrow(/invalid named capture|invalid or unsupported/);
    expect(() => findN('(a)\\1', 'aa')).toThrow(/invalid escape/);
    expect(() => findN('a{1001}', 'a')).toThrow(/invalid repeat count/);
  });

  it('$ is the end of the text, not of a line, without (?m)', () => {
    expect(findN('a$', 'a\na')).toEqual(['a']);
    expect(findN('(?m)a$', 'a\na')).toEqual(['a', 'a']);
  });

  it('finds empty matches between runes, never inside one (UTF-8 offsets)', () => {
    expect(findN('x*', 'é日')).toEqual(['', '', '']);
    expect(findN('a*', 'baaac')).toEqual(['', 'aaa', '']); // no empty match right after 'aaa'
  });

  it('stops after n matches; 0 finds none', () => {
    expect(findN('a', 'aaa', 2)).toEqual(['a', 'a']);
    expect(findN('a', 'aaa', 0)).toEqual([]);
    expect(() => findN('a', 'aaa', 1.5)).toThrow(/integer/);
  });

  it('accepts a group name used twice, as Go does since 1.22', () => {
    expect(findN('(?P<n>a)(?P<n>b)', 'abab')).toEqual(['ab', 'ab']);
    expect(replace('ab', '(?P<n>a)|(?P<n>b)', '[$n]')).toBe('[a][b]');
  });
});

describe('regex.split and regex.replace', () => {
  it('split follows Go: an empty pattern splits runes, a leading match gives an empty first part', () => {
    expect(split('', 'abc')).toEqual(['a', 'b', 'c']);
    expect(split('a', 'abab')).toEqual(['', 'b', 'b']);
    expect(split('x*', 'ab')).toEqual(['a', 'b']);
    expect(split('a', '')).toEqual(['']);
    expect(split('', '')).toEqual([]);
  });

  it('replace expands Go templates: $1, ${1}x, $name, $$; $1x is the group named "1x"', () => {
    expect(replace('hello world', '(\\w+) (\\w+)', '$2 $1')).toBe('world hello');
    expect(replace('abc', '(b)', '${1}x')).toBe('abxc');
    expect(replace('abc', '(b)', '$1x')).toBe('ac');
    expect(replace('abc', '(?P<mid>b)', '<$mid>')).toBe('a<b>c');
    expect(replace('abc', 'b', '$$')).toBe('a$c');
    expect(replace('abc', 'b', '$')).toBe('a$c');
  });

  it('replace treats empty matches as Go does (one per position, none right after a match)', () => {
    expect(replace('abc', 'x*', '-')).toBe('-a-b-c-');
    expect(replace('baaac', 'a*', '-')).toBe('-b-c-');
    expect(replace('foo', '^[a-z]', 'F')).toBe('Foo');
  });
});

describe('regex.template_match', () => {
  const match = (t: string, s: string, open = '{', close = '}') => call('regex.template_match', t, s, open, close);

  it('matches literal text around delimited patterns', () => {
    expect(match('urn:foo:{.*}', 'urn:foo:bar:baz')).toBe(true);
    expect(match('urn:foo.bar:{.*}', 'urn:fooxbar:x')).toBe(false);
    expect(match('urn:foo:<[0-9]{2,10}>', 'urn:foo:123', '<', '>')).toBe(true);
    expect(match('urn:foo:<[0-9]{2,10}>', 'urn:foo:1', '<', '>')).toBe(false);
  });

  it('refuses unbalanced delimiters and delimiters that are not one byte', () => {
    expect(() => match('urn:{.*', 'urn:x')).toThrow(/unbalanced braces/);
    expect(() => match('urn:.*}', 'urn:x')).toThrow(/unbalanced braces/);
    expect(() => match('x', 'x', '{{')).toThrow(/exactly one character/);
    expect(() => match('x', 'x', 'é')).toThrow(/exactly one character/);
  });
});

describe('regex.globs_match (glob-intersection)', () => {
  it('answers as gintersect.NonEmpty', () => {
    expect(globsIntersect('a.a.', '.b.b')).toBe(true);
    expect(globsIntersect('[a-z]+', '[0-9]*')).toBe(false);
    expect(globsIntersect('a*b', 'ab+')).toBe(true);
    expect(globsIntersect('abc', 'abd')).toBe(false);
    expect(globsIntersect('.*', 'anything')).toBe(true);
    expect(globsIntersect('[a-c]+', 'cab')).toBe(true);
    expect(globsIntersect('[\\]]', '\\]')).toBe(true);
  });

  it('reports malformed globs', () => {
    expect(() => call('regex.globs_match', '[a-', 'a')).toThrow(/invalid/);
    expect(() => call('regex.globs_match', '*a', 'a')).toThrow(/must be preceded by a non-flag/);
    expect(() => call('regex.globs_match', 'a\\', 'a')).toThrow(/escape/);
  });
});

describe('compiled pattern memo', () => {
  it('returns the same compiled pattern and stays bounded', () => {
    const first = compileGoRegexp('t', 'memo-a+');
    expect(compileGoRegexp('t', 'memo-a+')).toBe(first);
    for (let i = 0; i < 1000; i++) compileGoRegexp('t', `memo-${i}`);
    expect(compileGoRegexp('t', 'memo-a+')).not.toBe(first); // evicted, compiled again
  });
});
