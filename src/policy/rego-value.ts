/**
 * Rego values as text, both ways, for the OPA Wasm ABI's `opa_value_dump` / `opa_value_parse`
 * (https://www.openpolicyagent.org/docs/wasm/#exports). That format is JSON extended with sets
 * (`{1, "a"}`, `set()`) and non-string object keys (`{1: "x"}`); numbers keep every digit. JSON
 * alone would turn sets into arrays and round integers beyond 2^53 (nanosecond times), which is
 * why host builtins do not use `opa_json_dump`.
 *
 * Decoded shapes: see RegoValue in builtins/types.ts.
 */
import type { RegoMap, RegoObject, RegoValue } from './builtins/types.js';

/** A run of 16+ digits may be an integer JSON.parse would round. */
const LONG_DIGITS = /\d{16}/;

/**
 * Parse `opa_value_dump` output (or JSON). Integers beyond ±2^53 become bigints.
 * @throws SyntaxError on text that is neither.
 */
export function parseRegoValue(text: string): RegoValue {
  // Most values are plain JSON with ordinary numbers: let the native parser take them.
  if (!LONG_DIGITS.test(text)) {
    try {
      return fromJson(JSON.parse(text) as unknown);
    } catch {
      // a set or a non-string key: the full parser below
    }
  }
  const parser = new Parser(text);
  const value = parser.value();
  parser.end();
  return value;
}

/**
 * Parse JSON keeping integers beyond ±2^53 exact (as bigints); plain JSON.parse otherwise. Objects
 * are ordinary JS objects. For result sets read back from `opa_eval` and for `opa eval` output.
 */
export function parseJsonExact(text: string): unknown {
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
  const parser = new Parser(text);
  const value = parser.value();
  parser.end();
  return toPlain(value);
}

/** Serialise a value for `opa_value_parse`. @throws TypeError for NaN, ±Infinity and non-values. */
export function formatRegoValue(value: RegoValue): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${value} is not a Rego number`);
      return JSON.stringify(value);
    case 'bigint':
      return value.toString();
    case 'string':
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new TypeError(`a ${typeof value} is not a Rego value`);
  }
  if (Array.isArray(value)) return `[${value.map(formatRegoValue).join(',')}]`;
  if (value instanceof Set) return value.size === 0 ? 'set()' : `{${[...value].map(formatRegoValue).join(',')}}`;
  if (value instanceof Map) return `{${[...value].map(([k, v]) => `${formatRegoValue(k)}:${formatRegoValue(v)}`).join(',')}}`;
  const parts: string[] = [];
  for (const key of Object.keys(value)) {
    const item = (value as RegoObject)[key];
    if (item === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${formatRegoValue(item)}`);
  }
  return `{${parts.join(',')}}`;
}

/** JSON.parse output → RegoValue (null-prototype objects, so `__proto__` stays an ordinary key). */
function fromJson(value: unknown): RegoValue {
  if (value === null || typeof value !== 'object') return value as RegoValue;
  if (Array.isArray(value)) return value.map(fromJson);
  const out = Object.create(null) as RegoObject;
  for (const key of Object.keys(value)) out[key] = fromJson((value as Record<string, unknown>)[key]);
  return out;
}

/** Parsed JSON → ordinary JS objects (bigints kept). JSON holds no sets or non-string keys. */
function toPlain(value: RegoValue): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(toPlain);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    Object.defineProperty(out, key, { value: toPlain(item), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

/** Recursive-descent parser for the Rego value format (nesting bounded by the policy's own values). */
class Parser {
  #pos = 0;
  constructor(private readonly text: string) {}

  value(): RegoValue {
    this.#skip();
    const c = this.text[this.#pos];
    if (c === '{') return this.#braces();
    if (c === '[') {
      this.#pos++;
      const items: RegoValue[] = [];
      this.#list(']', () => items.push(this.value()));
      return items;
    }
    if (c === '"') return this.#string();
    if (this.#word('set()')) return new Set();
    if (this.#word('null')) return null;
    if (this.#word('true')) return true;
    if (this.#word('false')) return false;
    NUMBER.lastIndex = this.#pos;
    const match = NUMBER.exec(this.text);
    if (!match) throw this.#error('a value');
    this.#pos += match[0].length;
    const n = Number(match[0]);
    return Number.isInteger(n) && !Number.isSafeInteger(n) && /^-?\d+$/.test(match[0]) ? BigInt(match[0]) : n;
  }

  end(): void {
    this.#skip();
    if (this.#pos !== this.text.length) throw this.#error('the end');
  }

  /** `{}` object, `{k: v, ...}` object (a Map if any key is not a string), `{a, b}` set. */
  #braces(): RegoValue {
    this.#pos++;
    this.#skip();
    if (this.text[this.#pos] === '}') {
      this.#pos++;
      return Object.create(null) as RegoObject;
    }
    const first = this.value();
    this.#skip();
    if (this.text[this.#pos] !== ':') {
      const set = new Set<RegoValue>([first]);
      this.#rest('}', () => set.add(this.value()));
      return set;
    }
    const pairs: [RegoValue, RegoValue][] = [];
    const pair = (key: RegoValue) => {
      this.#skip();
      if (this.text[this.#pos] !== ':') throw this.#error('":"');
      this.#pos++;
      pairs.push([key, this.value()]);
    };
    pair(first);
    this.#rest('}', () => pair(this.value()));
    if (pairs.every(([key]) => typeof key === 'string')) {
      const object = Object.create(null) as RegoObject;
      for (const [key, item] of pairs) object[key as string] = item;
      return object;
    }
    return new Map(pairs) as RegoMap;
  }

  /** Items separated by commas up to `close`, the first not yet read. */
  #list(close: string, item: () => void): void {
    this.#skip();
    if (this.text[this.#pos] === close) {
      this.#pos++;
      return;
    }
    item();
    this.#rest(close, item);
  }

  /** After a first item: (`,` item)* `close`. */
  #rest(close: string, item: () => void): void {
    for (;;) {
      this.#skip();
      const c = this.text[this.#pos++];
      if (c === close) return;
      if (c !== ',') throw this.#error(`"," or "${close}"`);
      item();
    }
  }

  #string(): string {
    STRING.lastIndex = this.#pos;
    const match = STRING.exec(this.text);
    if (!match) throw this.#error('a string');
    this.#pos += match[0].length;
    return JSON.parse(match[0]) as string;
  }

  #word(word: string): boolean {
    if (!this.text.startsWith(word, this.#pos)) return false;
    this.#pos += word.length;
    return true;
  }

  #skip(): void {
    while (this.#pos < this.text.length && ' \t\r\n'.includes(this.text[this.#pos]!)) this.#pos++;
  }

  #error(expected: string): SyntaxError {
    return new SyntaxError(`Rego value: expected ${expected} at offset ${this.#pos}`);
  }
}
