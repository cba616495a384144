/**
 * Host builtins: the strings family, as OPA v1.19.1's topdown/strings.go, glob.go and template.go:
 * sprintf (Go's fmt, go-fmt.ts), prefix/suffix matching over collections, counting, splitting,
 * rune indexes, glob quoting and strings.render_template (Go's text/template, go-template.ts).
 */
import { arrayArg, objectArg, stringArg, typeName } from './args.js';
import { goSprintf } from './go-fmt.js';
import { goIntArg } from './go-int.js';
import { renderTemplate } from './go-template.js';
import { parseRegoValue } from '../rego-value.js';
import { goArg, goArgsFromValueText } from './sprintf-args.js';
import { BuiltinError, type BuiltinFamily, type RegoValue } from './types.js';

/** A string, or an array or set of strings (strings.any_prefix_match's operands). */
function stringsOperand(builtin: string, position: number, value: RegoValue | undefined): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) || value instanceof Set) {
    return [...value].map((item) => {
      if (typeof item !== 'string') throw new BuiltinError(builtin, `operand ${position} must be array of strings but got ${typeName(item)}`);
      return item;
    });
  }
  throw new BuiltinError(builtin, `operand ${position} must be one of {string, set, array} but got ${typeName(value)}`);
}

/** Go's strings.SplitN(s, sep, n) (n > 0: at most n parts; n < 0: all). */
function splitN(s: string, sep: string, n: number): string[] {
  if (sep === '') {
    const runes = Array.from(s);
    if (n > 0 && n < runes.length) return [...runes.slice(0, n - 1), runes.slice(n - 1).join('')];
    return runes;
  }
  const parts: string[] = [];
  let rest = s;
  while (n < 0 || parts.length < n - 1) {
    const at = rest.indexOf(sep);
    if (at < 0) break;
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + sep.length);
  }
  parts.push(rest);
  return parts;
}

export const stringsBuiltins: BuiltinFamily = {
  sprintf: {
    fn: (_ctx, format, values) => {
      const f = stringArg('sprintf', 1, format);
      const args = arrayArg('sprintf', 2, values);
      return goSprintf(f, args.map(goArg));
    },
    // The runtime hands over the arguments' text, so numbers are passed as OPA passes them.
    fnText: (_ctx, format, values) => goSprintf(stringArg('sprintf', 1, parseRegoValue(format)), goArgsFromValueText(values)),
    note: "Go's fmt verbs, with each value passed as OPA passes it: by the number's text an integer is int64 (*big.Int beyond), a number with a decimal point float64, an exponent form such as 1e-7 its text; strings as strings; anything else its Rego text. Top-level numbers keep how they were written (1.0 is a float64, 1e3 its text), as in OPA; a number nested inside an array or object argument is printed from its value.",
  },
  'strings.any_prefix_match': {
    fn: (_ctx, search, base) => {
      const strs = stringsOperand('strings.any_prefix_match', 1, search);
      const prefixes = stringsOperand('strings.any_prefix_match', 2, base);
      return strs.some((s) => prefixes.some((p) => s.startsWith(p)));
    },
  },
  'strings.any_suffix_match': {
    fn: (_ctx, search, base) => {
      const strs = stringsOperand('strings.any_suffix_match', 1, search);
      const suffixes = stringsOperand('strings.any_suffix_match', 2, base);
      return strs.some((s) => suffixes.some((p) => s.endsWith(p)));
    },
  },
  'strings.count': {
    fn: (_ctx, search, substring) => {
      const s = stringArg('strings.count', 1, search);
      const sub = stringArg('strings.count', 2, substring);
      // Go's strings.Count: non-overlapping; an empty substring counts rune boundaries.
      if (sub === '') return Array.from(s).length + 1;
      return s.split(sub).length - 1;
    },
  },
  'strings.split_n': {
    fn: (_ctx, value, delimiter, count) => {
      const s = stringArg('strings.split_n', 1, value);
      const d = stringArg('strings.split_n', 2, delimiter);
      const n = goIntArg('strings.split_n', 3, count);
      if (n >= 0) return splitN(s, d, n + 1 > Number.MAX_SAFE_INTEGER ? -1 : n + 1).slice(0, n);
      const parts = splitN(s, d, -1);
      return parts.slice(Math.max(parts.length + n, 0));
    },
  },
  indexof_n: {
    fn: (_ctx, haystack, needle) => {
      const base = Array.from(stringArg('indexof_n', 1, haystack));
      const search = Array.from(stringArg('indexof_n', 2, needle));
      if (search.length === 0) throw new BuiltinError('indexof_n', 'empty search character');
      const found: number[] = [];
      for (let i = 0; i + search.length <= base.length; i++) {
        if (search.every((r, k) => base[i + k] === r)) found.push(i);
      }
      return found;
    },
  },
  'glob.quote_meta': {
    // gobwas/glob's QuoteMeta: a backslash before each of * ? \ [ ] { }.
    fn: (_ctx, pattern) => stringArg('glob.quote_meta', 1, pattern).replace(/[*?\\[\]{}]/g, '\\$&'),
  },
  'strings.render_template': {
    fn: (_ctx, template, vars) => {
      const t = stringArg('strings.render_template', 1, template);
      const v = objectArg('strings.render_template', 2, vars);
      return renderTemplate('strings.render_template', t, v);
    },
    note: "Go's text/template over the variables as JSON (numbers are json.Number: `{{if .n}}` is true for 0, `eq .n 1` is an error). Not implemented, so undefined rather than a possibly different string: the `call` function, printf's %p of a list or an object, {{template}} nested deeper than 1000 calls, and renderings of more than a million steps.",
  },
};
