/**
 * Host builtins: the regex family, with Go's RE2 semantics (re2.ts), as OPA v1.19.1's
 * topdown/regex.go and regex_template.go. regex.match, regex.is_valid and
 * regex.find_all_string_submatch_n are compiled into policy.wasm and never reach the host.
 */
import { stringArg } from './args.js';
import { globsIntersect } from './glob-intersection.js';
import { compileGoRegexp, findAllString, GoString, quoteMeta, replaceAll, splitAll, type GoRegexp } from './re2.js';
import { goIntArg } from './go-int.js';
import { BuiltinError, type BuiltinFamily } from './types.js';

const TEMPLATE_MEMO_LIMIT = 256;
const templateMemo = new Map<string, GoRegexp>();

/**
 * regex.template_match's pattern: text outside the delimiters is literal, each delimited part a
 * regular expression (forked from gorilla/mux: OPA's compileRegexTemplate).
 */
function compileTemplate(builtin: string, template: string, start: string, end: string): GoRegexp {
  const key = `${start}${end}${template}`;
  const hit = templateMemo.get(key);
  if (hit) return hit;
  const bounds = delimiterIndices(builtin, template, start, end);
  let pattern = '^';
  let last = 0;
  for (let i = 0; i < bounds.length; i += 2) {
    const raw = template.slice(last, bounds[i]);
    last = bounds[i + 1]!;
    const part = template.slice(bounds[i]! + 1, last - 1);
    pattern += `${quoteMeta(raw)}(${part})`;
    compileGoRegexp(builtin, `^${part}$`); // each part must compile alone too
  }
  pattern += `${quoteMeta(template.slice(last))}$`;
  const re = compileGoRegexp(builtin, pattern);
  if (templateMemo.size >= TEMPLATE_MEMO_LIMIT) templateMemo.delete(templateMemo.keys().next().value as string);
  templateMemo.set(key, re);
  return re;
}

/** Start/end offsets of the outermost delimited parts; unbalanced delimiters are an error. */
function delimiterIndices(builtin: string, s: string, start: string, end: string): number[] {
  let level = 0;
  let from = 0;
  const bounds: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === start) {
      if (++level === 1) from = i;
    } else if (s[i] === end) {
      if (--level === 0) bounds.push(from, i + 1);
      else if (level < 0) break;
    }
  }
  if (level !== 0) throw new BuiltinError(builtin, `unbalanced braces in ${JSON.stringify(s)}`);
  return bounds;
}

export const regexBuiltins: BuiltinFamily = {
  'regex.find_n': {
    fn: (_ctx, pattern, value, number) => {
      const p = stringArg('regex.find_n', 1, pattern);
      const s = stringArg('regex.find_n', 2, value);
      const n = goIntArg('regex.find_n', 3, number);
      return findAllString(compileGoRegexp('regex.find_n', p), new GoString(s), n);
    },
  },
  'regex.split': {
    fn: (_ctx, pattern, value) => {
      const p = stringArg('regex.split', 1, pattern);
      const s = stringArg('regex.split', 2, value);
      return splitAll(compileGoRegexp('regex.split', p), p, new GoString(s));
    },
  },
  'regex.replace': {
    fn: (_ctx, value, pattern, replacement) => {
      const s = stringArg('regex.replace', 1, value);
      const p = stringArg('regex.replace', 2, pattern);
      const template = stringArg('regex.replace', 3, replacement);
      return replaceAll(compileGoRegexp('regex.replace', p), new GoString(s), template);
    },
  },
  'regex.template_match': {
    fn: (_ctx, template, value, start, end) => {
      const t = stringArg('regex.template_match', 1, template);
      const s = stringArg('regex.template_match', 2, value);
      const open = stringArg('regex.template_match', 3, start);
      const close = stringArg('regex.template_match', 4, end);
      // One byte each, as Go's len(): a multi-byte character is refused too.
      for (const delimiter of [open, close]) {
        const bytes = Buffer.byteLength(delimiter);
        if (bytes !== 1) {
          const which = delimiter === open ? 'start' : 'end';
          throw new BuiltinError('regex.template_match', `${which} delimiter has to be exactly one character long but is ${bytes} long`);
        }
      }
      const re = compileTemplate('regex.template_match', t, open, close);
      return re.engine.matchUTF8(new GoString(s).bytes) as boolean;
    },
  },
  'regex.globs_match': {
    fn: (_ctx, glob1, glob2) => {
      const a = stringArg('regex.globs_match', 1, glob1);
      const b = stringArg('regex.globs_match', 2, glob2);
      try {
        return globsIntersect(a, b);
      } catch (error) {
        throw new BuiltinError('regex.globs_match', (error as Error).message);
      }
    },
  },
};
