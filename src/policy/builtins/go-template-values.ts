/**
 * text/template's values as Go's reflect sees the JSON-decoded variables of
 * strings.render_template (json.Number for numbers, interface{} nil for null, "no value" for a
 * missing key), how fmt prints them, their truth and comparisons, and the builtin functions
 * (text/template funcs.go, Go 1.26). Used by go-template.ts.
 */
import { goSprintf, type GoArg } from './go-fmt.js';
import { formatFloat } from './go-float.js';
import { isPrint } from './go-quote.js';
import { queryEscape } from './go-url.js';
import { fromByteString, toByteString } from './go-bytes.js';
import { numberText } from './rego-text.js';
import type { RegoValue } from './types.js';
import { compareStrings, sortedElements } from './value-order.js';

/** json.Number (a named string type). */
export class JsonNumber {
  constructor(readonly text: string) {}
}
/** An int or float64 made by the template itself (constants, len, range indexes). */
export class GoInt {
  /** `type` is the Go type: int, or uint8 for a byte taken from a string by index. */
  constructor(
    readonly value: bigint,
    readonly type: 'int' | 'uint8' = 'int',
  ) {}
}
export class GoFloat {
  constructor(readonly value: number) {}
}
/** `undefined`: an invalid reflect.Value (missing key); `null`: an interface holding nil. */
export type TValue = undefined | null | boolean | string | JsonNumber | GoInt | GoFloat | TValue[] | Map<string, TValue>;

export class TemplateError extends Error {}
export const fail = (message: string): never => {
  throw new TemplateError(message);
};

/** ast.As(value, &map[string]any): JSON round trip; sets become sorted arrays. */
export function fromRego(value: RegoValue): TValue {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return new JsonNumber(numberText(value));
  if (Array.isArray(value)) return value.map(fromRego);
  if (value instanceof Set) return sortedElements(value).map(fromRego); // a JSON array in OPA's set order
  if (value instanceof Map) return fail('object with non-string keys');
  const out = new Map<string, TValue>();
  for (const key of Object.keys(value)) out.set(key, fromRego(value[key]!));
  return out;
}

export const typeOf = (v: TValue): string => {
  if (v === undefined || v === null) return 'interface {}';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  if (v instanceof JsonNumber) return 'json.Number';
  if (v instanceof GoInt) return 'int';
  if (v instanceof GoFloat) return 'float64';
  if (Array.isArray(v)) return '[]interface {}';
  return 'map[string]interface {}';
};

export const sortedKeys = (m: Map<string, TValue>) => [...m.keys()].sort(compareStrings);

/** fmt's %v of a value nested in a slice or map. */
export function sprintValue(v: TValue): string {
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
  // "Spaces are added between operands when neither is a string": json.Number is a string kind.
  const stringKind = (v: TValue) => typeof v === 'string' || v instanceof JsonNumber;
  let out = '';
  args.forEach((arg, i) => {
    if (i > 0 && !stringKind(arg) && !stringKind(args[i - 1])) out += ' ';
    out += arg === undefined ? '<nil>' : sprintValue(arg);
  });
  return out;
}

export function isTrue(v: TValue): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return v.length > 0;
  if (v instanceof JsonNumber) return v.text.length > 0;
  if (v instanceof GoInt) return v.value !== 0n;
  if (v instanceof GoFloat) return v.value !== 0;
  if (Array.isArray(v)) return v.length > 0;
  return v.size > 0;
}

type Basic = 'bool' | 'int' | 'float' | 'string' | 'invalid';
/** text/template's basicKind: lists, objects, nil and missing values are all "invalid". */
function basicKind(v: TValue): Basic {
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string' || v instanceof JsonNumber) return 'string';
  if (v instanceof GoInt) return 'int';
  if (v instanceof GoFloat) return 'float';
  return 'invalid';
}
const scalar = (v: TValue): string | number | bigint | boolean =>
  v instanceof JsonNumber ? v.text : v instanceof GoInt ? v.value : v instanceof GoFloat ? v.value : (v as string | boolean);
/** A reflect.Value that is valid after indirectInterface: not missing, not nil. */
const valid = (v: TValue) => v !== undefined && v !== null;

/** text/template's eq (funcs.go), rule for rule. */
function eq(a: TValue, others: TValue[]): boolean {
  if (others.length === 0) fail('missing argument for comparison');
  const k1 = basicKind(a);
  for (const b of others) {
    const k2 = basicKind(b);
    let truth = false;
    if (k1 !== k2) {
      if (valid(a) && valid(b)) fail('incompatible types for comparison');
    } else if (k1 !== 'invalid') {
      truth = scalar(a) === scalar(b);
    } else {
      // Lists and objects compare only with nil (Go's maps and slices are not comparable).
      if (valid(a) && valid(b)) fail('non-comparable types');
      truth = valid(a) === valid(b);
    }
    if (truth) return true;
  }
  return false;
}

function lessThan(a: TValue, b: TValue): boolean {
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (k1 === 'invalid' || k2 === 'invalid') fail('invalid type for comparison');
  if (k1 !== k2) fail('incompatible types for comparison');
  if (k1 === 'bool') fail('invalid type for comparison');
  if (k1 === 'string') return compareStrings(scalar(a) as string, scalar(b) as string) < 0;
  return (scalar(a) as number) < (scalar(b) as number);
}

/** A printf operand as Go sees it: JSON values inside interface{}, the template's own ints as int. */
function toGoArg(v: TValue): GoArg {
  if (v === undefined || v === null) return { kind: 'nil' };
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (typeof v === 'boolean') return { kind: 'bool', value: v };
  if (v instanceof JsonNumber) return { kind: 'string', value: v.text, type: 'json.Number' };
  if (v instanceof GoInt) return { kind: 'int', value: v.value, type: v.type };
  if (v instanceof GoFloat) return { kind: 'float', value: v.value };
  if (Array.isArray(v)) return { kind: 'list', items: v.map(toGoArg) };
  return { kind: 'map', entries: sortedKeys(v).map((k) => [k, toGoArg(v.get(k))]) };
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
    else if (r < 0x80 || isPrint(r)) out += ch;
    else out += `\\u${r.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return out;
}

/** text/template's evalArgs: one string argument as is, else fmt.Sprint. */
const evalArgs = (args: TValue[]): string =>
  args.length === 1 && typeof args[0] === 'string' ? args[0] : sprint(args.map((a) => (valid(a) ? a : '<no value>')));

type Fn = (args: TValue[], lazy?: (() => TValue)[]) => TValue;
export const FUNCS: Record<string, Fn> = {
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
    if (!valid(item)) fail('index of untyped nil');
    for (const key of a.slice(1)) {
      if (item instanceof Map && typeof key === 'string') item = item.has(key) ? item.get(key) : undefined;
      else if (Array.isArray(item) && key instanceof GoInt) {
        if (key.value < 0n || key.value >= BigInt(item.length)) fail('index out of range');
        item = item[Number(key.value)];
      } else if ((typeof item === 'string' || item instanceof JsonNumber) && key instanceof GoInt) {
        const bytes = Buffer.from(typeof item === 'string' ? item : item.text, 'utf8');
        if (key.value < 0n || key.value >= BigInt(bytes.length)) fail('index out of range');
        item = new GoInt(BigInt(bytes[Number(key.value)]!), 'uint8');
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
export const LAZY = new Set(['and', 'or']);
