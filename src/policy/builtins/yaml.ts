/**
 * Host builtins: yaml.is_valid, yaml.unmarshal, yaml.marshal (topdown/encoding.go). OPA goes through
 * sigs.k8s.io/yaml, i.e. go-yaml v2 (YAML 1.1 scalars) and JSON:
 * - unmarshal: the first document; plain scalars resolved as go-yaml v2 does (y/yes/on booleans,
 *   0x/0o/0b and leading-zero octal integers, underscores, timestamps kept as text, numbers out of
 *   float64 range kept as text), `<<` merge keys, later duplicate keys winning, keys turned into
 *   strings (ints, floats, booleans) and anything else an error, Inf/NaN an error.
 * - marshal: keys in go-yaml's natural order (digit runs compared as numbers), sequences not
 *   indented under their key, strings that would read back as another type double-quoted.
 * The `yaml` package parses (failsafe schema, so every scalar arrives as text and the resolution
 * below is go-yaml's) and writes.
 */
import { Document, isAlias, isMap, isScalar, isSeq, type Node, parseAllDocuments, Scalar } from 'yaml';
import { newObject, stringArg } from './args.js';
import { toJson } from './json-schema.js';
import { BuiltinError, type BuiltinFamily, type RegoObject, type RegoValue } from './types.js';
import { sortedElements } from './value-order.js';

const TAG = 'tag:yaml.org,2002:';

type Resolved = { tag: 'str' | 'bool' | 'null' | 'int' | 'float' | 'merge' | 'timestamp'; value: unknown };

/** go-yaml v2 decodes a timestamp into interface{} as its original text. */
const timestampAsText = (r: Resolved): Resolved => (r.tag === 'timestamp' ? { tag: 'str', value: r.value } : r);

const TIMESTAMP = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?))?$/;

/** go-yaml v2's parseTimestamp: the layouts it accepts, with time.Parse's range checks. */
function isTimestamp(s: string): boolean {
  const m = TIMESTAMP.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1 || d > new Date(Date.UTC(y, mo, 0)).getUTCDate()) return false;
  const h = Number(m[4] ?? m[7] ?? 0);
  const mi = Number(m[5] ?? m[8] ?? 0);
  const se = Number(m[6] ?? m[9] ?? 0);
  return h < 24 && mi < 60 && se < 60;
}

const MAP: Record<string, Resolved> = {};
const put = (tag: Resolved['tag'], value: unknown, words: string[]) => words.forEach((w) => (MAP[w] = { tag, value }));
put('bool', true, ['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']);
put('bool', false, ['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']);
put('null', null, ['', '~', 'null', 'Null', 'NULL']);
put('float', NaN, ['.nan', '.NaN', '.NAN']);
put('float', Infinity, ['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF']);
put('float', -Infinity, ['-.inf', '-.Inf', '-.INF']);
put('merge', '<<', ['<<']);

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;
const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const GO_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+\.?[0-9]*)([eE][-+]?[0-9]+)?$/;

/** strconv.ParseInt(s, 0, 64) / ParseUint: sign (signed only), base prefix, digits. */
function goParseInt(s: string, signed: boolean): bigint | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m || (!signed && m[1] !== '')) return undefined;
  let digits = m[2]!;
  if (/^0[oO]/.test(digits)) digits = `0o${digits.slice(2)}`;
  else if (/^0[0-7]+$/.test(digits)) digits = `0o${digits.slice(1)}`;
  const n = BigInt(digits.replace(/^0X/, '0x').replace(/^0B/, '0b'));
  const v = m[1] === '-' ? -n : n;
  if (signed ? v < INT64_MIN || v > INT64_MAX : v > UINT64_MAX) return undefined;
  return v;
}

/** strconv.ParseFloat for decimal text; undefined when Go reports an error (syntax or range). */
function goParseFloat(s: string): number | undefined {
  if (!GO_FLOAT.test(s)) return undefined;
  const f = Number(s);
  return Number.isFinite(f) ? f : undefined;
}

/** go-yaml v2's resolve() for an untagged plain scalar. */
export function resolvePlain(text: string): Resolved {
  const hit = Object.hasOwn(MAP, text) ? MAP[text] : undefined;
  if (hit) return hit;
  const c = text[0] ?? '';
  if (c === '.') {
    const f = goParseFloat(text);
    if (f !== undefined) return { tag: 'float', value: f };
  } else if (c === '+' || c === '-' || (c >= '0' && c <= '9')) {
    if (isTimestamp(text)) return { tag: 'timestamp', value: text };
    const plain = text.replaceAll('_', '');
    const i = goParseInt(plain, true) ?? goParseInt(plain, false);
    if (i !== undefined) return { tag: 'int', value: i };
    if (YAML_FLOAT.test(plain)) {
      const f = goParseFloat(plain);
      if (f !== undefined) return { tag: 'float', value: f };
    }
    const bin = /^(-?)0b([01]+)$/.exec(plain);
    if (bin) {
      const n = (bin[1] ? -1n : 1n) * BigInt(`0b${bin[2]}`);
      if (n >= INT64_MIN && n <= UINT64_MAX) return { tag: 'int', value: n };
    }
  }
  return { tag: 'str', value: text };
}

const fail = (builtin: string, message: string) => new BuiltinError(builtin, message);


/** A scalar node as go-yaml v2 decodes it into interface{}. */
function scalarValue(node: Scalar, builtin: string): Resolved {
  const tag = node.tag;
  // the yaml package has already decoded !!binary into bytes
  if (node.value instanceof Uint8Array) return { tag: 'str', value: Buffer.from(node.value).toString('utf8') };
  const text = String(node.value);
  if (tag === `${TAG}binary`) return { tag: 'str', value: Buffer.from(text, 'base64').toString('utf8') };
  if (tag === `${TAG}str` || tag === '!') return { tag: 'str', value: text };
  if (tag === undefined) return node.type === 'PLAIN' ? timestampAsText(resolvePlain(text)) : { tag: 'str', value: text };
  if (!tag.startsWith(TAG)) return { tag: 'str', value: text }; // a local tag: go-yaml keeps the text
  const wanted = tag.slice(TAG.length);
  const r = resolvePlain(text);
  if (wanted === r.tag) return r;
  if (wanted === 'float' && r.tag === 'int') return { tag: 'float', value: Number(r.value) };
  if (wanted === 'timestamp' || wanted === 'map' || wanted === 'seq') return timestampAsText(r);
  throw fail(builtin, `cannot decode !!${r.tag} \`${text}\` as a !!${wanted}`);
}

/** A resolved scalar as the JSON value sigs.k8s.io/yaml produces. */
function jsonScalar(r: Resolved, builtin: string): RegoValue {
  if (r.tag === 'float') {
    const f = r.value as number;
    if (!Number.isFinite(f)) throw fail(builtin, `json: unsupported value: ${f}`);
    return f;
  }
  if (r.tag === 'int') {
    const n = r.value as bigint;
    return n >= -BigInt(Number.MAX_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
  }
  return r.value as RegoValue;
}

/** A map key as sigs.k8s.io/yaml turns it into a JSON key. */
function keyString(r: Resolved, builtin: string): string {
  switch (r.tag) {
    case 'str':
    case 'merge':
      return r.value as string;
    case 'bool':
      return r.value ? 'true' : 'false';
    case 'int':
      if ((r.value as bigint) > INT64_MAX) break; // uint64 keys are refused
      return (r.value as bigint).toString();
    case 'float': {
      const f = r.value as number;
      if (Number.isNaN(f)) return '.nan';
      if (!Number.isFinite(f)) return f > 0 ? '.inf' : '-.inf';
      return goFormatFloat(Math.fround(f), 'float32');
    }
    default:
      break;
  }
  throw fail(builtin, `unsupported map key: ${String(r.value)}`);
}

/** Nodes one document may decode to: aliases can make a small text expand exponentially. */
const MAX_DECODED_NODES = 100_000;

class Decoder {
  readonly #active = new Set<Node>();
  #decoded = 0;
  constructor(
    private readonly doc: ReturnType<typeof parseAllDocuments>[number] & { contents: unknown },
    private readonly builtin: string,
  ) {}

  value(node: unknown): RegoValue {
    if (++this.#decoded > MAX_DECODED_NODES) throw fail(this.builtin, 'document contains excessive aliasing');
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      const target = node.resolve(this.doc as never) as Node | undefined;
      if (!target) throw fail(this.builtin, `unknown anchor '${node.source}' referenced`);
      if (this.#active.has(target)) throw fail(this.builtin, `anchor '${node.source}' value contains itself`);
      this.#active.add(target);
      try {
        return this.value(target);
      } finally {
        this.#active.delete(target);
      }
    }
    if (isScalar(node)) return jsonScalar(scalarValue(node, this.builtin), this.builtin);
    if (isSeq(node)) return node.items.map((item) => this.value(item));
    if (isMap(node)) {
      const out = newObject();
      for (const pair of node.items) {
        const key = pair.key as unknown;
        const keyNode = isAlias(key) ? (key.resolve(this.doc as never) as unknown) : key;
        if (keyNode !== null && keyNode !== undefined && !isScalar(keyNode)) throw fail(this.builtin, 'invalid map key: a collection');
        const resolved = keyNode ? scalarValue(keyNode as Scalar, this.builtin) : MAP['']!;
        if (resolved.tag === 'merge') {
          this.merge(pair.value, out);
          continue;
        }
        out[keyString(resolved, this.builtin)] = this.value(pair.value);
      }
      return out;
    }
    throw fail(this.builtin, 'unsupported YAML node');
  }

  /** `<<: map` or `<<: [maps]`: the merged keys are set as if written there. */
  merge(node: unknown, out: RegoObject): void {
    const target = isAlias(node) ? (node.resolve(this.doc as never) as unknown) : node;
    const maps = isSeq(target) ? target.items : [target];
    for (const m of maps) {
      const v = this.value(m);
      if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Set || v instanceof Map) {
        throw fail(this.builtin, 'map merge requires map or sequence of maps as the value');
      }
      Object.assign(out, v);
    }
  }
}

export function yamlUnmarshal(text: string, builtin = 'yaml.unmarshal'): RegoValue {
  const docs = parseAllDocuments(text, { schema: 'failsafe', uniqueKeys: false, strict: false, prettyErrors: false });
  if (!Array.isArray(docs)) return null; // an empty stream
  const first = docs[0];
  if (!first) return null;
  if (first.errors.length > 0) throw fail(builtin, first.errors[0]!.message);
  return new Decoder(first as never, builtin).value(first.contents);
}

// ---- marshal ----

/** strconv.FormatFloat(f, 'g', -1, 64|32). */
function goFormatFloat(f: number, size: 'float64' | 'float32' = 'float64'): string {
  if (Number.isNaN(f)) return 'NaN';
  if (!Number.isFinite(f)) return f > 0 ? '+Inf' : '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  // the shortest digits that read back as the same float (of that size)
  let digits = '';
  for (let p = 1; p <= 17; p++) {
    const s = f.toExponential(p - 1);
    if ((size === 'float32' ? Math.fround(Number(s)) : Number(s)) === f) {
      digits = s;
      break;
    }
  }
  const [mant, expText] = digits.split('e') as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) {
    const e = Math.abs(exp);
    return `${mant}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
  }
  return Number(digits).toString();
}

/** go-yaml's keyList.Less for string keys: letters before other characters, digit runs by value. */
export function yamlKeyLess(a: string, b: string): boolean {
  const ar = [...a];
  const br = [...b];
  const isLetter = (c: string) => /\p{L}/u.test(c);
  const isDigit = (c: string | undefined) => c !== undefined && /\p{Nd}/u.test(c);
  for (let i = 0; i < ar.length && i < br.length; i++) {
    if (ar[i] === br[i]) continue;
    const al = isLetter(ar[i]!);
    const bl = isLetter(br[i]!);
    if (al && bl) return ar[i]!.codePointAt(0)! < br[i]!.codePointAt(0)!;
    if (al || bl) return bl;
    let an = 0n;
    let bn = 0n;
    if (ar[i] === '0' || br[i] === '0') {
      for (let j = i - 1; j >= 0 && isDigit(ar[j]); j--) {
        if (ar[j] !== '0') {
          an = 1n;
          bn = 1n;
          break;
        }
      }
    }
    let ai = i;
    let bi = i;
    for (; ai < ar.length && isDigit(ar[ai]); ai++) an = an * 10n + BigInt(ar[ai]!.codePointAt(0)! - 48);
    for (; bi < br.length && isDigit(br[bi]); bi++) bn = bn * 10n + BigInt(br[bi]!.codePointAt(0)! - 48);
    if (an !== bn) return an < bn;
    if (ai !== bi) return ai < bi;
    return ar[i]!.codePointAt(0)! < br[i]!.codePointAt(0)!;
  }
  return ar.length < br.length;
}

/** libyaml's printable characters: a string of only these it single-quotes rather than double-quotes. */
const PRINTABLE = /^[\u0020-\u007e\u0085\u00a0-\ud7ff\ue000-\ufefe\uff00-\ufffd\u{10000}-\u{10ffff}]*$/u;
const STYLE = { indentSeq: false, singleQuote: true, lineWidth: 80, minContentWidth: 0 } as const;

const BASE60_FLOAT = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;

/** Numbers are written by Go's rules: placeholders in the tree, replaced in the text. */
class NumberSlots {
  readonly #token = `ghnum${Math.random().toString(36).slice(2)}x`;
  readonly #texts: string[] = [];
  slot(text: string): string {
    this.#texts.push(text);
    return `${this.#token}${this.#texts.length - 1}z`;
  }
  fill(yaml: string): string {
    return yaml.replace(new RegExp(`${this.#token}(\\d+)z`, 'g'), (_m, i: string) => this.#texts[Number(i)]!);
  }
}

/** go-yaml's output for a number read from OPA's JSON: integers as digits, others FormatFloat 'g'. */
function goNumber(n: number | bigint): string {
  if (typeof n === 'bigint') return n.toString();
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return BigInt(n).toString();
  return goFormatFloat(n);
}

/** The value as go-yaml holds it after reading OPA's JSON, as yaml nodes. */
function toNode(doc: Document, value: RegoValue, numbers: NumberSlots): unknown {
  if (value === null || typeof value === 'boolean') return doc.createNode(value);
  if (typeof value === 'number' || typeof value === 'bigint') return new Scalar(numbers.slot(goNumber(value)));
  if (typeof value === 'string') {
    const node = new Scalar(value);
    if (value.includes('\n')) return node;
    if (resolvePlain(value).tag !== 'str' || BASE60_FLOAT.test(value)) node.type = 'QUOTE_DOUBLE';
    else if (PRINTABLE.test(value) && new Document(value, { version: '1.1' }).toString(STYLE).startsWith('"')) node.type = 'QUOTE_SINGLE';
    return node;
  }
  if (Array.isArray(value) || value instanceof Set) {
    const seq = doc.createNode([]) as ReturnType<Document['createNode']> & { items: unknown[] };
    seq.items = (value instanceof Set ? sortedElements(value) : value).map((v) => toNode(doc, v, numbers));
    return seq;
  }
  const entries: [string, RegoValue][] = (value instanceof Map ? [...value] : Object.entries(value)).map(([k, v]) => [
    typeof k === 'string' ? k : JSON.stringify(toJson(k)),
    v,
  ]);
  entries.sort(([x], [y]) => (yamlKeyLess(x, y) ? -1 : yamlKeyLess(y, x) ? 1 : 0));
  const map = doc.createNode({}) as ReturnType<Document['createNode']> & { items: unknown[] };
  map.items = entries.map(([k, v]) => doc.createPair(toNode(doc, k, numbers), toNode(doc, v, numbers)));
  return map;
}

export function yamlMarshal(value: RegoValue): string {
  const doc = new Document(null, { version: '1.1' });
  const numbers = new NumberSlots();
  doc.contents = toNode(doc, value, numbers) as never;
  const text = numbers.fill(doc.toString(STYLE));
  // libyaml indents a document-level block scalar; the yaml package does not
  if (typeof value === 'string' && /^[|>]/.test(text)) {
    const [header, ...lines] = text.split('\n');
    return `${header}\n${lines.map((l, i) => (i === lines.length - 1 || l === '' ? l : `  ${l}`)).join('\n')}`;
  }
  return text;
}

export const yamlBuiltins: BuiltinFamily = {
  'yaml.is_valid': {
    fn: (_ctx, value) => {
      if (typeof value !== 'string') return false;
      try {
        yamlUnmarshal(value, 'yaml.is_valid');
        return true;
      } catch {
        return false;
      }
    },
  },
  'yaml.unmarshal': {
    fn: (_ctx, value) => yamlUnmarshal(stringArg('yaml.unmarshal', 1, value)),
    note: `A document that decodes to more than ${MAX_DECODED_NODES} values (aliases expanded) is an error in gatehouse.`,
  },
  'yaml.marshal': {
    fn: (_ctx, value) => yamlMarshal(value!),
    note: 'Strings longer than a line may be folded at different points than in OPA\'s go-yaml output (both read back as the same value).',
  },
};
