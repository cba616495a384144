/**
 * Go's text/template as OPA's strings.render_template runs it (topdown/template.go: the variables
 * object decoded as JSON, numbers as json.Number; output with "<no value>" replaced by
 * "<undefined>"). Implemented: text, comments, trim markers, {{pipeline}}, variables ($, $x :=,
 * $x =), fields (.a.b, $x.a, (pipe).a), literals (strings, numbers, true, false, nil), pipes,
 * if / else if / else, range (arrays, objects in key order, counts; $i, $e :=; else), with / else,
 * break, continue, define / template / block, and the functions and, or, not, len, index, slice, eq,
 * ne, lt, le, gt, ge, print, println, printf, html, js, urlquery. Anything else (call, character
 * constants, printf of a list or an object, {{template}} nested deeper than 1000) is an error, so the result is undefined instead of a string
 * that could differ from OPA's. Rules follow text/template (Go 1.26): https://pkg.go.dev/text/template
 */
import { goSprintf, type GoArg } from './go-fmt.js';
import { formatFloat } from './go-float.js';
import { queryEscape } from './go-url.js';
import { fromByteString, toByteString } from './go-bytes.js';
import { numberText } from './rego-text.js';
import { BuiltinError, type RegoValue } from './types.js';
import { compareStrings } from './value-order.js';

// ---- values, as Go's reflect sees the decoded JSON ----

/** json.Number (a named string type). */
class JsonNumber {
  constructor(readonly text: string) {}
}
/** An int or float64 made by the template itself (constants, len, range indexes). */
class GoInt {
  constructor(readonly value: bigint) {}
}
class GoFloat {
  constructor(readonly value: number) {}
}
/** `undefined`: an invalid reflect.Value (missing key); `null`: an interface holding nil. */
type TValue = undefined | null | boolean | string | JsonNumber | GoInt | GoFloat | TValue[] | Map<string, TValue>;

class TemplateError extends Error {}
const fail = (message: string): never => {
  throw new TemplateError(message);
};

/** ast.As(value, &map[string]any): JSON round trip; sets become sorted arrays. */
function fromRego(value: RegoValue): TValue {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return new JsonNumber(numberText(value));
  if (Array.isArray(value)) return value.map(fromRego);
  if (value instanceof Set) return [...value].map(fromRego).sort((a, b) => compareStrings(JSON.stringify(a), JSON.stringify(b)));
  if (value instanceof Map) return fail('object with non-string keys');
  const out = new Map<string, TValue>();
  for (const key of Object.keys(value)) out.set(key, fromRego(value[key]!));
  return out;
}

const typeOf = (v: TValue): string => {
  if (v === undefined || v === null) return 'interface {}';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  if (v instanceof JsonNumber) return 'json.Number';
  if (v instanceof GoInt) return 'int';
  if (v instanceof GoFloat) return 'float64';
  if (Array.isArray(v)) return '[]interface {}';
  return 'map[string]interface {}';
};

const sortedKeys = (m: Map<string, TValue>) => [...m.keys()].sort(compareStrings);

/** fmt's %v of a value nested in a slice or map. */
function sprintValue(v: TValue): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return v;
  if (v instanceof JsonNumber) return v.text;
  if (v instanceof GoInt) return v.value.toString();
  if (v instanceof GoFloat) return formatFloat(v.value, 'g', -1);
  if (Array.isArray(v)) return `[${v.map(sprintValue).join(' ')}]`;
  return `map[${sortedKeys(v).map((k) => `${k}:${sprintValue(v.get(k))}`).join(' ')}]`;
}

/** fmt.Sprint(args...): a space between operands when neither is a string. */
function sprint(args: TValue[]): string {
  let out = '';
  args.forEach((arg, i) => {
    if (i > 0 && typeof arg !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += arg === undefined ? '<nil>' : sprintValue(arg);
  });
  return out;
}

function isTrue(v: TValue): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return v.length > 0;
  if (v instanceof JsonNumber) return v.text.length > 0;
  if (v instanceof GoInt) return v.value !== 0n;
  if (v instanceof GoFloat) return v.value !== 0;
  if (Array.isArray(v)) return v.length > 0;
  return v.size > 0;
}

type Basic = 'bool' | 'int' | 'float' | 'string' | 'invalid' | 'other';
function basicKind(v: TValue): Basic {
  if (v === undefined || v === null) return 'invalid';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string' || v instanceof JsonNumber) return 'string';
  if (v instanceof GoInt) return 'int';
  if (v instanceof GoFloat) return 'float';
  return 'other';
}
const scalar = (v: TValue): string | number | bigint | boolean =>
  v instanceof JsonNumber ? v.text : v instanceof GoInt ? v.value : v instanceof GoFloat ? v.value : (v as string | boolean);

function eq(a: TValue, others: TValue[]): boolean {
  if (others.length === 0) fail('missing argument for comparison');
  const k1 = basicKind(a);
  for (const b of others) {
    const k2 = basicKind(b);
    if (k1 !== k2) {
      // A missing or null operand against a basic value is simply not equal.
      if (a !== undefined && a !== null && b !== undefined && b !== null) fail('incompatible types for comparison');
      if (k1 === 'other' || k2 === 'other') fail('non-basic comparison');
      continue;
    }
    if (k1 === 'other' || k1 === 'invalid') fail('non-basic comparison');
    if (scalar(a) === scalar(b)) return true;
  }
  return false;
}

function lessThan(a: TValue, b: TValue): boolean {
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (k1 === 'bool' || k1 === 'other' || k1 === 'invalid' || k2 === 'bool' || k2 === 'other' || k2 === 'invalid') fail('invalid type for comparison');
  if (k1 !== k2) fail('incompatible types for comparison');
  if (k1 === 'string') return compareStrings(scalar(a) as string, scalar(b) as string) < 0;
  return (scalar(a) as number) < (scalar(b) as number);
}

function toGoArg(v: TValue): GoArg {
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (v instanceof JsonNumber) return { kind: 'string', value: v.text, type: 'json.Number' };
  if (typeof v === 'boolean') return { kind: 'bool', value: v };
  if (v instanceof GoInt) return { kind: 'int', value: v.value };
  if (v instanceof GoFloat) return { kind: 'float', value: v.value };
  return fail(`printf of ${typeOf(v)} is not supported`);
}

function htmlEscape(s: string): string {
  return s.replace(/[&'<>"\u0000]/g, (c) => ({ '&': '&amp;', "'": '&#39;', '<': '&lt;', '>': '&gt;', '"': '&#34;', '\u0000': '\ufffd' })[c]!);
}

/** text/template's JSEscapeString. */
function jsEscape(s: string): string {
  const named: Record<string, string> = { '\\': '\\\\', "'": "\\'", '"': '\\"', '<': '\\u003C', '>': '\\u003E', '&': '\\u0026', '=': '\\u003D' };
  let out = '';
  for (const ch of s) {
    const r = ch.codePointAt(0)!;
    if (named[ch] !== undefined) out += named[ch];
    else if (r < 0x20) out += `\\u00${r.toString(16).toUpperCase().padStart(2, '0')}`;
    else if (r < 0x80 || PRINTABLE.test(ch)) out += ch;
    else out += `\\u${r.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return out;
}
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

/** text/template's evalArgs: one string argument as is, else fmt.Sprint. */
const evalArgs = (args: TValue[]): string => (args.length === 1 && typeof args[0] === 'string' ? args[0] : sprint(args));

type Fn = (args: TValue[], lazy?: (() => TValue)[]) => TValue;
const FUNCS: Record<string, Fn> = {
  not: (a) => (a.length !== 1 ? fail('wrong number of args for not') : !isTrue(a[0])),
  len: (a) => {
    if (a.length !== 1) fail('wrong number of args for len');
    const v = a[0];
    if (typeof v === 'string') return new GoInt(BigInt(Buffer.byteLength(v)));
    if (v instanceof JsonNumber) return new GoInt(BigInt(v.text.length));
    if (Array.isArray(v)) return new GoInt(BigInt(v.length));
    if (v instanceof Map) return new GoInt(BigInt(v.size));
    return fail(`len of type ${typeOf(v)}`);
  },
  index: (a) => {
    if (a.length < 1) fail('wrong number of args for index');
    let item = a[0];
    for (const key of a.slice(1)) {
      if (item instanceof Map && typeof key === 'string') item = item.has(key) ? item.get(key) : undefined;
      else if (Array.isArray(item) && key instanceof GoInt) {
        if (key.value < 0n || key.value >= BigInt(item.length)) fail('index out of range');
        item = item[Number(key.value)];
      } else fail('unsupported index');
    }
    return item;
  },
  eq: (a) => eq(a[0], a.slice(1)),
  ne: (a) => (a.length !== 2 ? fail('wrong number of args for ne') : !eq(a[0], [a[1]])),
  lt: (a) => (a.length !== 2 ? fail('wrong number of args for lt') : lessThan(a[0], a[1])),
  le: (a) => (a.length !== 2 ? fail('wrong number of args for le') : lessThan(a[0], a[1]) || eq(a[0], [a[1]])),
  gt: (a) => (a.length !== 2 ? fail('wrong number of args for gt') : !lessThan(a[0], a[1]) && !eq(a[0], [a[1]])),
  ge: (a) => (a.length !== 2 ? fail('wrong number of args for ge') : !lessThan(a[0], a[1])),
  print: (a) => sprint(a),
  println: (a) => `${a.map((v) => (v === undefined ? '<nil>' : sprintValue(v))).join(' ')}\n`,
  printf: (a) => {
    if (a.length < 1 || typeof a[0] !== 'string') fail('printf needs a format string');
    return goSprintf(a[0] as string, a.slice(1).map(toGoArg));
  },
  html: (a) => htmlEscape(evalArgs(a)),
  js: (a) => jsEscape(evalArgs(a)),
  slice: (a) => {
    if (a.length < 1) fail('wrong number of args for slice');
    const [item, ...indexes] = a;
    if (indexes.length > 3) fail(`too many slice indexes: ${indexes.length}`);
    let length: number;
    if (typeof item === 'string' || item instanceof JsonNumber) {
      if (indexes.length === 3) fail('cannot 3-index slice a string');
      length = Buffer.byteLength(typeof item === 'string' ? item : item.text);
    } else if (Array.isArray(item)) {
      length = item.length;
    } else {
      return fail(item === undefined || item === null ? 'slice of untyped nil' : `can't slice item of type ${typeOf(item)}`);
    }
    const idx = [0, length, length];
    indexes.forEach((index, i) => {
      if (!(index instanceof GoInt)) fail(`cannot index slice/array with type ${typeOf(index)}`);
      const x = (index as GoInt).value;
      if (x < 0n || x > BigInt(length)) fail(`index out of range: ${x}`);
      idx[i] = Number(x);
    });
    if (idx[0]! > idx[1]! || (indexes.length === 3 && idx[1]! > idx[2]!)) fail('invalid slice index');
    if (Array.isArray(item)) return item.slice(idx[0], idx[1]);
    const bytes = Buffer.from(typeof item === 'string' ? item : (item as JsonNumber).text, 'utf8');
    const part = bytes.subarray(idx[0], idx[1]);
    // A cut through a multi-byte character would leave bytes no JS string can hold: refuse.
    if (Buffer.from(part.toString('utf8'), 'utf8').length !== part.length) fail('slice splits a UTF-8 character');
    return typeof item === 'string' ? part.toString('utf8') : new JsonNumber(part.toString('utf8'));
  },
  urlquery: (a) => fromByteString(queryEscape(toByteString(evalArgs(a)))),
};
/** and/or evaluate their arguments lazily (Go 1.18+). */
const LAZY = new Set(['and', 'or']);

// ---- lexing and parsing ----

type Node =
  | { t: 'text'; text: string }
  | { t: 'action'; pipe: Pipe }
  | { t: 'if' | 'with' | 'range'; pipe: Pipe; list: Node[]; else?: Node[] }
  | { t: 'break' | 'continue' }
  | { t: 'template'; name: string; pipe: Pipe | undefined };

interface Pipe {
  decl: string[];
  assign: boolean;
  cmds: Arg[][];
}

type Arg =
  | { t: 'dot' }
  | { t: 'field'; base: Arg | undefined; names: string[] } // base undefined: .a.b on dot
  | { t: 'var'; name: string; names: string[] }
  | { t: 'const'; value: TValue }
  | { t: 'fn'; name: string }
  | { t: 'pipe'; pipe: Pipe; names: string[] };

const SPACE = /^[ \t\r\n]*/;
const TRAILING_SPACE = /[ \t\r\n]*$/;

/** Split the template into text and action bodies, applying trim markers and dropping comments. */
function scan(template: string): ({ text: string } | { action: string })[] {
  const out: ({ text: string } | { action: string })[] = [];
  let rest = template;
  let trimNext = false;
  for (;;) {
    const open = rest.indexOf('{{');
    let text = open < 0 ? rest : rest.slice(0, open);
    if (trimNext) text = text.replace(SPACE, '');
    if (open < 0) {
      if (text) out.push({ text });
      return out;
    }
    let body = rest.slice(open + 2);
    // "{{- " trims the text before; a comment must start right after the delimiter (and marker).
    if (/^-[ \t\r\n]/.test(body)) {
      text = text.replace(TRAILING_SPACE, '');
      body = body.slice(2);
    }
    if (text) out.push({ text });
    if (body.startsWith('/*')) {
      const endComment = body.indexOf('*/');
      if (endComment < 0) fail('unclosed comment');
      const after = body.slice(endComment + 2);
      if (/^[ \t\r\n]-\}\}/.test(after)) {
        trimNext = true;
        rest = after.slice(4);
      } else if (after.startsWith('}}')) {
        trimNext = false;
        rest = after.slice(2);
      } else {
        fail('comment ends before closing delimiter');
      }
      continue;
    }
    const close = findClose(body);
    let action = body.slice(0, close);
    trimNext = false;
    if (/[ \t\r\n]-$/.test(action)) {
      trimNext = true;
      action = action.slice(0, -1);
    }
    out.push({ action });
    rest = body.slice(close + 2);
  }
}

/** Where the action's `}}` is, skipping quoted strings. */
function findClose(body: string): number {
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '"' || c === '`' || c === "'") {
      const end = c === '`' ? body.indexOf('`', i + 1) : skipQuoted(body, i, c);
      if (end < 0) fail('unterminated quoted string');
      i = end;
    } else if (c === '}' && body[i + 1] === '}') {
      return i;
    }
  }
  return fail('unclosed action');
}

function skipQuoted(s: string, start: number, quote: string): number {
  for (let i = start + 1; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === quote) return i;
    else if (s[i] === '\n') return -1;
  }
  return -1;
}

const TOKEN = /\s*(?:("(?:[^"\\\n]|\\.)*")|(`[^`]*`)|('(?:[^'\\\n]|\\.)*')|(:=|=|\||\(|\)|,)|(\$[A-Za-z0-9_]*)|((?:\.[A-Za-z0-9_]+)+|\.)|([+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:[0-9][0-9_]*\.?[0-9_]*|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9]+)?)(?![A-Za-z0-9_.]))|([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_]+)*))/y;

type Token = { k: 'str' | 'op' | 'var' | 'field' | 'num' | 'ident'; v: string; fields?: string };

function tokenize(action: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (action.slice(pos).trim() !== '') {
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(action);
    if (!m) return fail(`unexpected ${JSON.stringify(action.slice(pos).trim().slice(0, 10))} in action`);
    pos = TOKEN.lastIndex;
    if (m[1] || m[2]) tokens.push({ k: 'str', v: m[1] ?? m[2]! });
    else if (m[3]) fail('character constants are not supported');
    else if (m[4]) tokens.push({ k: 'op', v: m[4] });
    else if (m[5]) tokens.push({ k: 'var', v: m[5] });
    else if (m[6]) tokens.push({ k: 'field', v: m[6] });
    else if (m[7]) tokens.push({ k: 'num', v: m[7] });
    else tokens.push({ k: 'ident', v: m[8]!, fields: m[9] });
    // A variable or a closing parenthesis may be followed directly by .field chains.
    if ((m[5] || m[4] === ')') && action[pos] === '.') {
      const chain = /(?:\.[A-Za-z0-9_]+)+/y;
      chain.lastIndex = pos;
      const c = chain.exec(action);
      if (c) {
        tokens.push({ k: 'field', v: `@${c[0]}` });
        pos = chain.lastIndex;
      }
    }
  }
  return tokens;
}

/** strconv.Unquote for a double-quoted or raw string literal. */
function unquote(literal: string): string {
  if (literal.startsWith('`')) return literal.slice(1, -1).replace(/\r/g, '');
  let out = '';
  const body = literal.slice(1, -1);
  const bytes: number[] = [];
  const flush = () => {
    if (bytes.length) out += fromByteString(String.fromCharCode(...bytes.splice(0)));
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      flush();
      out += c;
      continue;
    }
    const e = body[++i]!;
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"' };
    if (simple[e] !== undefined) {
      flush();
      out += simple[e];
    } else if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 1, i + 3))) {
      bytes.push(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (e >= '0' && e <= '7' && /^[0-7]{3}$/.test(body.slice(i, i + 3)) && parseInt(body.slice(i, i + 3), 8) < 256) {
      bytes.push(parseInt(body.slice(i, i + 3), 8));
      i += 2;
    } else if ((e === 'u' || e === 'U') && new RegExp(`^[0-9a-fA-F]{${e === 'u' ? 4 : 8}}$`).test(body.slice(i + 1, i + (e === 'u' ? 5 : 9)))) {
      const n = e === 'u' ? 4 : 8;
      const r = parseInt(body.slice(i + 1, i + 1 + n), 16);
      if (r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff)) fail('invalid escape');
      flush();
      out += String.fromCodePoint(r);
      i += n;
    } else {
      fail('invalid escape in string literal');
    }
  }
  flush();
  return out;
}

/** A number constant as text/template's idealConstant types it: int, or float64 when written with . e p. */
function numberConstant(text: string): TValue {
  const clean = text.replace(/_/g, '');
  if (/^[+-]?0[xX]/.test(clean) || /^[+-]?0[bB]/.test(clean) || /^[+-]?0[oO]/.test(clean) || /^[+-]?[0-9]+$/.test(clean)) {
    const neg = clean.startsWith('-');
    const body = clean.replace(/^[+-]/, '');
    const radix = /^0[xX]/.test(body) ? 16 : /^0[bB]/.test(body) ? 2 : /^0[oO]/.test(body) ? 8 : /^0[0-9]/.test(body) ? 8 : 10;
    const digits = radix === 10 ? body : radix === 8 && !/^0[oO]/.test(body) ? body.slice(1) || '0' : body.slice(2);
    let n = 0n;
    for (const d of digits) {
      const v = parseInt(d, radix);
      if (Number.isNaN(v)) fail(`bad number syntax: ${text}`);
      n = n * BigInt(radix) + BigInt(v);
    }
    if (neg) n = -n;
    if (n < -(2n ** 63n) || n >= 2n ** 63n) fail(`number out of range: ${text}`);
    return new GoInt(n);
  }
  const value = Number(clean);
  if (!Number.isFinite(value)) fail(`bad number syntax: ${text}`);
  return new GoFloat(value);
}

/** The name OPA gives the template it parses (template.New("template")). */
const MAIN = 'template';

/** A text node of only whitespace, or nothing: text/template's IsEmptyTree. */
const isEmptyTree = (nodes: Node[]) => nodes.every((n) => n.t === 'text' && n.text.trim() === '');

class Parser {
  #i = 0;
  #rangeDepth = 0;
  #depth = 0;
  /** Variables in scope while parsing (text/template checks them at parse time). */
  #scope: string[] = ['$'];
  readonly defines = new Map<string, Node[]>();
  constructor(private readonly items: ({ text: string } | { action: string })[]) {}

  /** The main template; {{define}}d and {{block}} templates land in `defines`, the main one as "template". */
  parse(): Node[] {
    const [list, end] = this.#list();
    if (end !== undefined) fail(`unexpected {{${end}}}`);
    this.#define(MAIN, list);
    return list;
  }

  /** Add a named template as text/template's AddParseTree does: an empty body never replaces one. */
  #define(name: string, body: Node[]): void {
    const old = this.defines.get(name);
    if (old && !isEmptyTree(old)) {
      if (!isEmptyTree(body)) fail(`multiple definition of template ${JSON.stringify(name)}`);
      return;
    }
    this.defines.set(name, body);
  }

  /** {{define "name"}}, {{block "name" pipeline}}, {{template "name" [pipeline]}}. */
  #templateAction(word: 'define' | 'block' | 'template', rest: string): Node | undefined {
    const tokens = tokenize(rest);
    const nameToken = tokens[0];
    if (nameToken?.k !== 'str') return fail(`unexpected name in ${word} clause`);
    const name = unquote(nameToken.v);
    const pipe = tokens.length > 1 ? parsePipe(tokens.slice(1), false, this.#scope) : undefined;
    if (word === 'template') return { t: 'template', name, pipe };
    if (word === 'define' && (this.#depth > 0 || pipe)) fail('unexpected define clause');
    if (word === 'block' && !pipe) fail('missing value for block clause');
    const rangeDepth = this.#rangeDepth;
    const scope = this.#scope;
    this.#rangeDepth = 0;
    this.#scope = ['$'];
    this.#depth++;
    const [body, end] = this.#list();
    this.#depth--;
    this.#rangeDepth = rangeDepth;
    this.#scope = scope;
    if (end !== 'end') fail(`unexpected ${end === undefined ? 'EOF' : `{{${end}}}`} in ${word} clause`);
    this.#define(name, body);
    return word === 'block' ? { t: 'template', name, pipe } : undefined;
  }

  /** Nodes up to {{end}} / {{else ...}} (returned as the second value) or the end. */
  #list(): [Node[], string | undefined] {
    const nodes: Node[] = [];
    while (this.#i < this.items.length) {
      const item = this.items[this.#i++]!;
      if ('text' in item) {
        nodes.push({ t: 'text', text: item.text });
        continue;
      }
      const action = item.action.trim();
      const word = /^[A-Za-z]+/.exec(action)?.[0];
      if (word === 'end' && action === 'end') return [nodes, 'end'];
      if (word === 'else') return [nodes, action];
      if (word === 'if' || word === 'with' || word === 'range') {
        nodes.push(this.#control(word, action.slice(word.length)));
        continue;
      }
      if ((word === 'break' || word === 'continue') && action === word) {
        if (this.#rangeDepth === 0) fail(`{{${word}}} outside {{range}}`);
        nodes.push({ t: word });
        continue;
      }
      if ((word === 'define' || word === 'block' || word === 'template') && /^[A-Za-z]+(\s|$)/.test(action)) {
        const node = this.#templateAction(word, action.slice(word.length));
        if (node) nodes.push(node);
        continue;
      }
      if (word && ['break', 'continue', 'end', 'else'].includes(word) && /^[A-Za-z]+(\s|$)/.test(action)) {
        fail(`{{${word}}} is not supported`);
      }
      const pipe = parsePipe(tokenize(item.action), true, this.#scope);
      if (pipe.cmds.length === 0) fail('missing value for command');
      nodes.push({ t: 'action', pipe });
    }
    return [nodes, undefined];
  }

  #control(kind: 'if' | 'with' | 'range', rest: string): Node {
    const outer = this.#scope.length;
    try {
      return this.#controlBody(kind, rest);
    } finally {
      this.#scope.length = outer;
    }
  }

  #controlBody(kind: 'if' | 'with' | 'range', rest: string): Node {
    const pipe = parsePipe(tokenize(rest), kind !== 'if', this.#scope);
    if (pipe.cmds.length === 0) fail(`missing value for ${kind}`);
    if (kind === 'range' && pipe.decl.length > 2) fail('too many declarations in range');
    if (kind !== 'range' && pipe.decl.length > 1) fail('too many declarations');
    if (kind === 'range') this.#rangeDepth++;
    this.#depth++;
    const [list, end] = this.#list();
    this.#depth--;
    if (kind === 'range') this.#rangeDepth--;
    if (end === undefined) fail(`unexpected EOF in ${kind}`);
    const node: { t: 'if' | 'with' | 'range'; pipe: Pipe; list: Node[]; else?: Node[] } = { t: kind, pipe, list };
    if (end === 'end') return node;
    const elseRest = end!.slice(4).trim();
    if (elseRest === '') {
      this.#depth++;
      const [elseList, elseEnd] = this.#list();
      this.#depth--;
      if (elseEnd !== 'end') fail('expected end after else');
      node.else = elseList;
      return node;
    }
    // {{else if ...}} / {{else with ...}}: a nested control sharing our {{end}}.
    const word = /^[A-Za-z]+/.exec(elseRest)?.[0];
    if ((word === 'if' && kind === 'if') || (word === 'with' && kind === 'with')) {
      node.else = [this.#control(word, elseRest.slice(word.length))];
      return node;
    }
    return fail(`unexpected {{${end}}}`);
  }
}

/**
 * One pipeline. `scope` holds the variables in scope: a declaration adds to it (for its own
 * pipeline too, as Go's parser does) and using an undeclared variable is a parse error.
 */
function parsePipe(tokens: Token[], allowDecl: boolean, scope: string[]): Pipe {
  const pipe: Pipe = { decl: [], assign: false, cmds: [] };
  let k = 0;
  // Declarations: $x :=, $x =, $i, $e :=
  const declEnd = tokens.findIndex((t) => t.k === 'op' && (t.v === ':=' || t.v === '='));
  if (declEnd > 0 && tokens.slice(0, declEnd).every((t, i) => (i % 2 === 0 ? t.k === 'var' : t.k === 'op' && t.v === ','))) {
    if (!allowDecl && declEnd > 1) fail('too many declarations');
    pipe.decl = tokens.slice(0, declEnd).filter((t) => t.k === 'var').map((t) => t.v);
    pipe.assign = tokens[declEnd]!.v === '=';
    scope.push(...pipe.decl);
    k = declEnd + 1;
  }
  let cmd: Arg[] = [];
  for (; k < tokens.length; k++) {
    const tok = tokens[k]!;
    if (tok.k === 'op' && tok.v === '|') {
      if (cmd.length === 0) fail('missing command in pipeline');
      pipe.cmds.push(cmd);
      cmd = [];
      continue;
    }
    if (tok.k === 'op' && tok.v === '(') {
      let depth = 1;
      let j = k + 1;
      for (; j < tokens.length && depth > 0; j++) {
        if (tokens[j]!.k === 'op' && tokens[j]!.v === '(') depth++;
        if (tokens[j]!.k === 'op' && tokens[j]!.v === ')') depth--;
      }
      if (depth !== 0) fail('unclosed left paren');
      const inner = parsePipe(tokens.slice(k + 1, j - 1), false, scope);
      if (inner.decl.length) fail('declaration in parenthesized pipeline');
      if (inner.cmds.length === 0) fail('missing value in parentheses');
      let names: string[] = [];
      if (tokens[j]?.k === 'field' && tokens[j]!.v.startsWith('@')) {
        names = tokens[j]!.v.slice(2).split('.');
        j++;
      }
      cmd.push({ t: 'pipe', pipe: inner, names });
      k = j - 1;
      continue;
    }
    if (tok.k === 'var' && !scope.includes(tok.v)) fail(`undefined variable ${JSON.stringify(tok.v)}`);
    cmd.push(operand(tok, tokens[k + 1]));
    if (tokens[k + 1]?.k === 'field' && tokens[k + 1]!.v.startsWith('@')) k++;
  }
  if (cmd.length) pipe.cmds.push(cmd);
  else if (pipe.cmds.length) fail('missing command after |');
  for (const c of pipe.cmds.slice(1)) if (c[0]!.t !== 'fn' && c.length > 1) fail('non-function command with arguments in pipeline');
  for (const c of pipe.cmds) if (c.length > 1 && c[0]!.t !== 'fn') fail(`can't give argument to non-function`);
  return pipe;
}

function operand(tok: Token, next: Token | undefined): Arg {
  const chain = next?.k === 'field' && next.v.startsWith('@') ? next.v.slice(2).split('.') : [];
  switch (tok.k) {
    case 'str':
      return { t: 'const', value: unquote(tok.v) };
    case 'num':
      return { t: 'const', value: numberConstant(tok.v) };
    case 'var':
      return { t: 'var', name: tok.v, names: chain };
    case 'field':
      return tok.v === '.' ? { t: 'dot' } : { t: 'field', base: undefined, names: tok.v.slice(1).split('.') };
    case 'ident': {
      if (tok.fields) fail(`can't evaluate field of ${tok.v}`);
      if (tok.v === 'true' || tok.v === 'false') return { t: 'const', value: tok.v === 'true' };
      if (tok.v === 'nil') return { t: 'const', value: null };
      if (tok.v in FUNCS || LAZY.has(tok.v)) return { t: 'fn', name: tok.v };
      return fail(`function ${JSON.stringify(tok.v)} not defined`);
    }
    default:
      return fail(`unexpected ${tok.v}`);
  }
}

// ---- execution ----

/** How deep {{template}} calls may nest (Go allows 100000; a JavaScript stack does not). */
const MAX_TEMPLATE_DEPTH = 1000;

class Exec {
  out = '';
  #vars: [string, TValue][];
  #steps = 0;
  #depth = 0;
  constructor(
    root: TValue,
    private readonly templates: ReadonlyMap<string, Node[]>,
  ) {
    this.#vars = [['$', root]];
  }

  #tick(): void {
    if (++this.#steps > 1_000_000) fail('template too expensive');
  }

  walk(nodes: Node[], dot: TValue): void {
    for (const node of nodes) {
      this.#tick();
      switch (node.t) {
        case 'text':
          this.out += node.text;
          break;
        case 'action': {
          const value = this.pipe(node.pipe, dot);
          if (node.pipe.decl.length === 0) this.out += value === undefined || value === null ? '<no value>' : sprintValue(value);
          break;
        }
        case 'if':
        case 'with': {
          const mark = this.#vars.length;
          const value = this.pipe(node.pipe, dot);
          if (isTrue(value)) this.walk(node.list, node.t === 'with' ? value : dot);
          else if (node.else) this.walk(node.else, dot);
          this.#vars.length = mark;
          break;
        }
        case 'range':
          this.#range(node, dot);
          break;
        case 'break':
        case 'continue':
          throw node;
        case 'template': {
          const tree = this.templates.get(node.name);
          if (!tree) fail(`no such template ${JSON.stringify(node.name)}`);
          if (this.#depth >= MAX_TEMPLATE_DEPTH) fail('exceeded maximum template depth');
          const value = node.pipe ? this.pipe(node.pipe, dot) : undefined;
          // A called template sees only its own $ (its dot); break/continue cannot cross it.
          const vars = this.#vars;
          this.#vars = [['$', value]];
          this.#depth++;
          try {
            this.walk(tree!, value);
          } finally {
            this.#depth--;
            this.#vars = vars;
          }
          break;
        }
      }
    }
  }

  #range(node: { pipe: Pipe; list: Node[]; else?: Node[] }, dot: TValue): void {
    const mark = this.#vars.length;
    const value = this.pipe({ ...node.pipe, decl: [] }, dot);
    const items: [TValue, TValue][] = [];
    if (Array.isArray(value)) value.forEach((v, i) => items.push([new GoInt(BigInt(i)), v]));
    else if (value instanceof Map) for (const k of sortedKeys(value)) items.push([k, value.get(k)]);
    else if (value instanceof GoInt) for (let i = 0n; i < value.value; i++) items.push([new GoInt(i), new GoInt(i)]);
    else if (value !== undefined && value !== null) fail(`range can't iterate over ${sprintValue(value)}`);
    for (const [index, elem] of items) {
      this.#tick();
      const inner = this.#vars.length;
      if (node.pipe.decl.length === 1) this.#vars.push([node.pipe.decl[0]!, elem]);
      if (node.pipe.decl.length === 2) this.#vars.push([node.pipe.decl[0]!, index], [node.pipe.decl[1]!, elem]);
      let stop = false;
      try {
        this.walk(node.list, elem);
      } catch (signal) {
        if (signal === null || typeof signal !== 'object' || !('t' in signal)) throw signal;
        stop = (signal as Node).t === 'break';
      }
      this.#vars.length = inner;
      if (stop) break;
    }
    if (items.length === 0 && node.else) this.walk(node.else, dot);
    this.#vars.length = mark;
  }

  #lookup(name: string): TValue {
    for (let i = this.#vars.length - 1; i >= 0; i--) if (this.#vars[i]![0] === name) return this.#vars[i]![1];
    return fail(`undefined variable: ${name}`);
  }

  pipe(pipe: Pipe, dot: TValue): TValue {
    let value: TValue = undefined;
    let first = true;
    for (const cmd of pipe.cmds) {
      value = this.#command(cmd, dot, first ? undefined : { value });
      // Go digs into an interface{} result: a nil inside becomes "no value".
      if (value === null) value = undefined;
      first = false;
    }
    for (const name of pipe.decl) {
      if (pipe.assign) {
        let i = this.#vars.length - 1;
        while (i >= 0 && this.#vars[i]![0] !== name) i--;
        if (i < 0) fail(`undefined variable: ${name}`);
        this.#vars[i]![1] = value;
      } else {
        this.#vars.push([name, value]);
      }
    }
    return value;
  }

  #command(cmd: Arg[], dot: TValue, piped: { value: TValue } | undefined): TValue {
    const head = cmd[0]!;
    if (head.t === 'fn') {
      if (LAZY.has(head.name)) {
        const thunks = cmd.slice(1).map((a) => () => this.#arg(a, dot));
        if (piped) thunks.push(() => piped.value);
        if (thunks.length === 0) fail(`wrong number of args for ${head.name}`);
        let v: TValue = undefined;
        for (const thunk of thunks) {
          v = thunk();
          if (head.name === 'and' ? !isTrue(v) : isTrue(v)) return v;
        }
        return v;
      }
      const args = cmd.slice(1).map((a) => this.#arg(a, dot));
      if (piped) args.push(piped.value);
      return FUNCS[head.name]!(args);
    }
    if (piped) fail('non-function command in a pipeline');
    if (head.t === 'const' && head.value === null) fail('nil is not a command');
    return this.#arg(head, dot);
  }

  #arg(arg: Arg, dot: TValue): TValue {
    switch (arg.t) {
      case 'dot':
        return dot;
      case 'const':
        return arg.value;
      case 'fn':
        return FUNCS[arg.name] ? FUNCS[arg.name]!([]) : fail(`wrong number of args for ${arg.name}`);
      case 'field':
        return fields(dot, arg.names);
      case 'var':
        return fields(this.#lookup(arg.name), arg.names);
      case 'pipe':
        return fields(this.pipe(arg.pipe, dot), arg.names);
    }
  }
}

/** text/template's evalField over a chain: maps by key; a missing key is "no value". */
function fields(receiver: TValue, names: readonly string[]): TValue {
  let v = receiver;
  for (const name of names) {
    if (v === undefined) return undefined;
    if (v === null) fail(`nil pointer evaluating interface {}.${name}`);
    if (!(v instanceof Map)) fail(`can't evaluate field ${name} in type ${typeOf(v)}`);
    v = (v as Map<string, TValue>).has(name) ? (v as Map<string, TValue>).get(name) : undefined;
  }
  return v;
}

const MEMO_LIMIT = 128;
const memo = new Map<string, { main: Node[]; templates: ReadonlyMap<string, Node[]> }>();

/** strings.render_template. @throws BuiltinError for what Go reports as an error or gatehouse does not support. */
export function renderTemplate(builtin: string, template: string, vars: RegoValue): string {
  try {
    let parsed = memo.get(template);
    if (!parsed) {
      const parser = new Parser(scan(template));
      const main = parser.parse();
      parsed = { main, templates: parser.defines };
      if (memo.size >= MEMO_LIMIT) memo.delete(memo.keys().next().value as string);
      memo.set(template, parsed);
    }
    const data = fromRego(vars);
    const exec = new Exec(data, parsed.templates);
    exec.walk(parsed.templates.get(MAIN) ?? parsed.main, data);
    return exec.out.replaceAll('<no value>', '<undefined>');
  } catch (error) {
    if (error instanceof TemplateError) throw new BuiltinError(builtin, `template: ${error.message}`);
    throw error;
  }
}

