/**
 * Go's `regexp` package, as OPA's regex builtins use it, on top of re2js (a JavaScript port of
 * RE2/J, itself a port of Go's regexp: same syntax, leftmost-first semantics, linear time).
 * Matching runs over the UTF-8 bytes of the subject, so offsets, empty matches between runes and
 * `$` (end of text) behave exactly as in Go (https://pkg.go.dev/regexp). What is not re2js is the
 * glue Go's regexp adds on top of the matcher: `Split`, `Expand` and `QuoteMeta`.
 */
import { RE2JS } from 're2js';
import { BuiltinError } from './types.js';
import { BoundedMemo } from './bounded-memo.js';

type Engine = ReturnType<RE2JS['re2']>;

/** A compiled pattern: the matcher plus the group names `Expand` needs. */
export interface GoRegexp {
  readonly engine: Engine;
  /** Group index → name ("" for the whole match and unnamed groups), as Go's SubexpNames. */
  readonly subexpNames: readonly string[];
}

/** Compiled patterns (OPA keeps 100), bounded by count and by total pattern length. */
const memo = new BoundedMemo<GoRegexp>(256, 1 << 20);

/**
 * Compile `pattern` with Go's `regexp.Compile` syntax (syntax.Perl), memoised.
 * @throws BuiltinError with Go's "error parsing regexp: ..." text when the pattern is invalid.
 */
export function compileGoRegexp(builtin: string, pattern: string): GoRegexp {
  return memo.get(pattern, () => compile(builtin, pattern));
}

function compile(builtin: string, pattern: string): GoRegexp {
  let compiled: RE2JS;
  let renamed = new Map<string, string>();
  try {
    // Flags 0: Perl syntax, leftmost-first, no lookbehinds (Go has none).
    compiled = RE2JS.compile(pattern, 0);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // Go (since 1.22) accepts a group name used twice; re2js refuses it: give the repeats unique
    // names for re2js and map them back.
    if (!message.includes('duplicate capture group name')) throw new BuiltinError(builtin, message);
    const unique = uniqueGroupNames(pattern);
    renamed = unique.renamed;
    try {
      compiled = RE2JS.compile(unique.pattern, 0);
    } catch (retry) {
      throw new BuiltinError(builtin, retry instanceof Error ? retry.message : String(retry));
    }
  }
  const subexpNames = new Array<string>(compiled.groupCount() + 1).fill('');
  for (const [name, index] of Object.entries(compiled.namedGroups())) subexpNames[index] = renamed.get(name) ?? name;
  return { engine: compiled.re2(), subexpNames };
}

/**
 * `pattern` with every repeated group name replaced by a fresh one, and fresh → original. Scans
 * Go's syntax just enough to find group openings: escapes, `\Q...\E` and character classes skipped.
 */
const GROUP_OPENING = /\(\?P?<([A-Za-z0-9_]+)>/y;

function uniqueGroupNames(pattern: string): { pattern: string; renamed: Map<string, string> } {
  const seen = new Set<string>();
  const renamed = new Map<string, string>();
  let out = '';
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '\\') {
      if (pattern[i + 1] === 'Q') {
        const end = pattern.indexOf('\\E', i + 2);
        const stop = end < 0 ? pattern.length : end + 2;
        out += pattern.slice(i, stop);
        i = stop;
      } else {
        out += pattern.slice(i, i + 2);
        i += 2;
      }
      continue;
    }
    if (c === '[') {
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') {
        if (pattern[j] === '\\') j += 2;
        else if (pattern.startsWith('[:', j) && pattern.indexOf(':]', j + 2) > 0) j = pattern.indexOf(':]', j + 2) + 2;
        else j++;
      }
      out += pattern.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    GROUP_OPENING.lastIndex = i;
    const group = GROUP_OPENING.exec(pattern);
    if (group) {
      let name = group[1]!;
      if (seen.has(name)) {
        let fresh = `${name}_${renamed.size + 1}`;
        while (pattern.includes(fresh)) fresh += '_';
        renamed.set(fresh, name);
        name = fresh;
      }
      seen.add(name);
      out += `(?P<${name}>`;
      i += group[0].length;
      continue;
    }
    out += c;
    i++;
  }
  return { pattern: out, renamed };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A Go string: its UTF-8 bytes, sliced by byte offsets. */
export class GoString {
  readonly bytes: Uint8Array;
  constructor(readonly text: string) {
    this.bytes = encoder.encode(text);
  }
  get length(): number {
    return this.bytes.length;
  }
  /** `s[from:to]` (offsets from the matcher always fall between runes). */
  slice(from: number, to: number = this.bytes.length): string {
    return decoder.decode(this.bytes.subarray(from, to));
  }
}

/** `re.FindAllStringSubmatchIndex(s, n)`: n < 0 means all matches. */
export function findAllSubmatchIndex(re: GoRegexp, s: GoString, n: number): number[][] {
  return (re.engine.findAllUTF8SubmatchIndex(s.bytes, n) as number[][] | null) ?? [];
}

/** `re.FindAllString(s, n)`. */
export function findAllString(re: GoRegexp, s: GoString, n: number): string[] {
  const matches = (re.engine.findAllUTF8Index(s.bytes, n) as number[][] | null) ?? [];
  return matches.map(([from, to]) => s.slice(from!, to));
}

/** `re.Split(s, -1)` (Go's regexp.go, Regexp.Split). */
export function splitAll(re: GoRegexp, pattern: string, s: GoString): string[] {
  if (pattern.length > 0 && s.length === 0) return [''];
  const matches = (re.engine.findAllUTF8Index(s.bytes, -1) as number[][] | null) ?? [];
  const parts: string[] = [];
  let beg = 0;
  let end = 0;
  for (const [from, to] of matches) {
    end = from!;
    if (to !== 0) parts.push(s.slice(beg, end));
    beg = to!;
  }
  if (end !== s.length) parts.push(s.slice(beg));
  return parts;
}

/**
 * Replace every match as OPA's regex.replace does under `opa eval` (a cancellable evaluation):
 * `FindAllSubmatchIndex(src, -1)`, then each match replaced by `re.Expand(template)`.
 */
export function replaceAll(re: GoRegexp, s: GoString, template: string): string {
  const matches = findAllSubmatchIndex(re, s, -1);
  if (matches.length === 0) return s.text;
  let out = '';
  let lastEnd = 0;
  for (const match of matches) {
    out += s.slice(lastEnd, match[0]) + expand(re, template, s, match);
    lastEnd = match[1]!;
  }
  return out + s.slice(lastEnd);
}

const NAME_CHAR = /[\p{L}\p{Nd}_]/u;

/** Go's `Regexp.expand`: `$1`, `${1}`, `$name`, `${name}`, `$$`; malformed `$` stays literal. */
export function expand(re: GoRegexp, template: string, s: GoString, match: readonly number[]): string {
  let out = '';
  let rest = template;
  for (;;) {
    const dollar = rest.indexOf('$');
    if (dollar < 0) break;
    out += rest.slice(0, dollar);
    rest = rest.slice(dollar + 1);
    if (rest.startsWith('$')) {
      out += '$';
      rest = rest.slice(1);
      continue;
    }
    const ref = extractName(rest);
    if (!ref) {
      out += '$';
      continue;
    }
    rest = ref.rest;
    // A number names its group; a name the first group of that name that took part in the match.
    const indexes = ref.num >= 0 ? [ref.num] : re.subexpNames.flatMap((name, i) => (name === ref.name ? [i] : []));
    const index = indexes.find((i) => 2 * i + 1 < match.length && match[2 * i]! >= 0);
    if (index !== undefined) out += s.slice(match[2 * index]!, match[2 * index + 1]);
  }
  return out + rest;
}

/** Go's regexp `extract`: a leading `name` or `{name}`; num is its value when it is a number. */
function extractName(str: string): { name: string; num: number; rest: string } | undefined {
  if (str === '') return undefined;
  let body = str;
  const brace = body.startsWith('{');
  if (brace) body = body.slice(1);
  let i = 0;
  for (const ch of body) {
    if (!NAME_CHAR.test(ch)) break;
    i += ch.length;
  }
  if (i === 0) return undefined;
  const name = body.slice(0, i);
  if (brace) {
    if (body[i] !== '}') return undefined;
    i++;
  }
  let num = 0;
  for (const ch of name) {
    if (ch < '0' || ch > '9' || num >= 1e8) {
      num = -1;
      break;
    }
    num = num * 10 + (ch.charCodeAt(0) - 48);
  }
  if (name[0] === '0' && name.length > 1) num = -1;
  return { name, num, rest: body.slice(i) };
}

/** Go's `regexp.QuoteMeta`: a backslash before each of `\.+*?()|[]{}^$`. */
export function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}
