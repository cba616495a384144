/**
 * File digests as OPA's bundle signing computes them
 * (https://www.openpolicyagent.org/docs/management-bundles/#signature-format):
 * - a structured file (base name `data.json`, `data.yaml`, `.manifest`, `signatures.json`: OPA
 *   v1/bundle/bundle.go `IsStructuredDoc`) is parsed and its value hashed in a canonical form:
 *   objects as `{"key":value,...}` with keys sorted by their UTF-8 bytes, arrays as `[a,b]`, no
 *   whitespace, numbers exactly as written (OPA decodes with `json.Number`), strings and keys as Go's
 *   encoding/json writes them without HTML escaping (v1/bundle/hash.go `walk`, `encodePrimitive`);
 * - any other file (`.rego`, `policy.wasm`, `data.yml`, `.gatehouse/...`) is hashed as raw bytes.
 * Where OPA would tolerate input gatehouse cannot reproduce exactly (YAML in a structured file,
 * invalid UTF-8, unpaired surrogates, absurd nesting), the file is refused: a verifier must fail
 * closed, never hash something other than what the loader reads.
 */
import { createHash } from 'node:crypto';
import { GatehouseError } from '../errors.js';

/** OPA's names for the digests it supports, minus MD5 and SHA-1 (collision-prone: refused). */
const HASHES: Readonly<Record<string, string>> = {
  'SHA-224': 'sha224',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
  'SHA-512-224': 'sha512-224',
  'SHA-512-256': 'sha512-256',
};
const REFUSED_HASHES = new Set(['MD5', 'SHA-1']);
const STRUCTURED_BASE_NAMES = new Set(['data.json', 'data.yaml', '.manifest', 'signatures.json']);
/** Go's decoder stops at 10000; no real data document comes near this, and recursion stays shallow. */
const MAX_DEPTH = 1000;

export const DEFAULT_HASH = 'SHA-256';

export function isStructuredFile(name: string): boolean {
  return STRUCTURED_BASE_NAMES.has(name.slice(name.lastIndexOf('/') + 1));
}

/** Hex digest of one bundle file under OPA's rules; throws bundle_invalid for an unusable algorithm or file. */
export function hashBundleFile(name: string, bytes: Buffer, algorithm: string): string {
  const nodeName = HASHES[algorithm];
  if (!nodeName) {
    const why = REFUSED_HASHES.has(algorithm) ? 'is collision-prone and refused' : 'is not supported';
    throw invalid(`file "${name}": hashing algorithm ${JSON.stringify(algorithm)} ${why} (use ${DEFAULT_HASH})`);
  }
  const hash = createHash(nodeName);
  hash.update(isStructuredFile(name) ? canonicalJson(name, bytes) : bytes);
  return hash.digest('hex');
}

/** The canonical text OPA hashes for a structured file. */
export function canonicalJson(name: string, bytes: Buffer): string {
  let text: string;
  try {
    // fatal: refuse invalid UTF-8 rather than guess how Go would replace it; a UTF-8 BOM is
    // dropped, as OPA's util.Unmarshal does.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalid(`file "${name}" is not valid UTF-8`);
  }
  const out: string[] = [];
  new Parser(name, text, out).document();
  return out.join('');
}

/**
 * A strict RFC 8259 parser that writes the canonical form as it goes. Objects are buffered per
 * level so their members can be sorted; everything else is appended directly.
 */
class Parser {
  #pos = 0;
  constructor(
    private readonly name: string,
    private readonly text: string,
    private readonly out: string[],
  ) {}

  document(): void {
    this.#value(0);
    this.#space();
    if (this.#pos !== this.text.length) {
      throw this.#fail('unexpected text after the JSON value (YAML is not accepted in a signed structured file)');
    }
  }

  #value(depth: number): void {
    if (depth > MAX_DEPTH) throw this.#fail(`nested deeper than ${MAX_DEPTH} levels`);
    this.#space();
    const c = this.text[this.#pos];
    if (c === '{') this.#object(depth);
    else if (c === '[') this.#array(depth);
    else if (c === '"') this.out.push(goString(this.#string()));
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) this.out.push(this.#number());
    else if (this.#literal('true') || this.#literal('false') || this.#literal('null')) return;
    else throw this.#fail(c === undefined ? 'unexpected end of input' : `unexpected ${JSON.stringify(c)}`);
  }

  #object(depth: number): void {
    this.#pos++;
    const members = new Map<string, string>(); // a repeated key keeps its last value, as in JSON.parse and Go
    this.#space();
    if (this.text[this.#pos] === '}') this.#pos++;
    else {
      for (;;) {
        this.#space();
        if (this.text[this.#pos] !== '"') throw this.#fail('expected a string key');
        const key = this.#string();
        this.#space();
        this.#expect(':');
        const saved = this.out.length;
        this.#value(depth + 1);
        members.set(key, this.out.splice(saved).join(''));
        this.#space();
        if (this.text[this.#pos] === ',') this.#pos++;
        else if (this.text[this.#pos] === '}') {
          this.#pos++;
          break;
        } else throw this.#fail('expected "," or "}"');
      }
    }
    const keys = [...members.keys()].map((k) => ({ k, b: Buffer.from(k, 'utf8') }));
    keys.sort((x, y) => Buffer.compare(x.b, y.b)); // Go sorts strings by bytes, not UTF-16 units
    this.out.push(`{${keys.map(({ k }) => `${goString(k)}:${members.get(k)!}`).join(',')}}`);
  }

  #array(depth: number): void {
    this.#pos++;
    this.out.push('[');
    this.#space();
    if (this.text[this.#pos] === ']') this.#pos++;
    else {
      for (let first = true; ; first = false) {
        if (!first) this.out.push(',');
        this.#value(depth + 1);
        this.#space();
        if (this.text[this.#pos] === ',') this.#pos++;
        else if (this.text[this.#pos] === ']') {
          this.#pos++;
          break;
        } else throw this.#fail('expected "," or "]"');
      }
    }
    this.out.push(']');
  }

  #string(): string {
    this.#pos++; // opening quote
    let result = '';
    let start = this.#pos;
    for (;;) {
      const code = this.text.charCodeAt(this.#pos);
      if (Number.isNaN(code)) throw this.#fail('unterminated string');
      if (code === 0x22) break;
      if (code < 0x20) throw this.#fail('control character in string');
      if (code !== 0x5c) {
        this.#pos++;
        continue;
      }
      result += this.text.slice(start, this.#pos);
      const escape = this.text[this.#pos + 1];
      this.#pos += 2;
      const simple = escape === undefined ? undefined : SIMPLE_ESCAPES[escape];
      if (simple !== undefined) result += simple;
      else if (escape === 'u') result += this.#unicodeEscape();
      else throw this.#fail(`bad escape "\\${escape ?? ''}"`);
      start = this.#pos;
    }
    result += this.text.slice(start, this.#pos);
    this.#pos++; // closing quote
    return result;
  }

  /** \uXXXX, joining a surrogate pair; an unpaired surrogate is refused (Go would turn it into U+FFFD). */
  #unicodeEscape(): string {
    const unit = this.#hex4();
    if (unit >= 0xdc00 && unit <= 0xdfff) throw this.#fail('unpaired surrogate escape in string');
    if (unit < 0xd800 || unit > 0xdbff) return String.fromCharCode(unit);
    if (this.text.slice(this.#pos, this.#pos + 2) !== '\\u') throw this.#fail('unpaired surrogate escape in string');
    this.#pos += 2;
    const low = this.#hex4();
    if (low < 0xdc00 || low > 0xdfff) throw this.#fail('unpaired surrogate escape in string');
    return String.fromCharCode(unit, low);
  }

  #hex4(): number {
    const digits = this.text.slice(this.#pos, this.#pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) throw this.#fail('bad \\u escape');
    this.#pos += 4;
    return parseInt(digits, 16);
  }

  #number(): string {
    NUMBER.lastIndex = this.#pos;
    const match = NUMBER.exec(this.text);
    if (!match) throw this.#fail('bad number');
    this.#pos += match[0].length;
    return match[0]; // as written: OPA hashes json.Number text, so 1.0 and 1 differ
  }

  #literal(word: 'true' | 'false' | 'null'): boolean {
    if (!this.text.startsWith(word, this.#pos)) return false;
    this.#pos += word.length;
    this.out.push(word);
    return true;
  }

  #expect(c: string): void {
    if (this.text[this.#pos] !== c) throw this.#fail(`expected ${JSON.stringify(c)}`);
    this.#pos++;
  }

  #space(): void {
    while (this.#pos < this.text.length && WHITESPACE.has(this.text.charCodeAt(this.#pos))) this.#pos++;
  }

  #fail(reason: string): GatehouseError {
    return invalid(`file "${this.name}" is not valid JSON at character ${this.#pos}: ${reason}`);
  }
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/**
 * A string as Go's encoding/json (1.22+) writes it with SetEscapeHTML(false): `"` and `\` escaped,
 * \b \f \n \r \t short, other controls as \u00xx, U+2028 and U+2029 escaped, everything else literal.
 */
function goString(s: string): string {
  return `"${s.replace(GO_ESCAPED, goEscape)}"`;
}

const GO_ESCAPED = /["\\\u0000-\u001f\u2028\u2029]/g;
const GO_SHORT: Readonly<Record<string, string>> = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function goEscape(c: string): string {
  return GO_SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

function invalid(message: string): GatehouseError {
  return new GatehouseError('bundle_invalid', `bundle signature: ${message}`);
}
