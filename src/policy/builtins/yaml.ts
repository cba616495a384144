/**
 * Host builtins: yaml.is_valid, yaml.unmarshal, yaml.marshal (topdown/encoding.go). OPA goes through
 * sigs.k8s.io/yaml, i.e. go-yaml v2 (YAML 1.1 scalars) and JSON:
 * - unmarshal: the first document; plain scalars resolved as go-yaml v2 does (y/yes/on booleans,
 *   0x/0o/0b and leading-zero octal integers, underscores, timestamps kept as text, numbers out of
 *   float64 range kept as text), `<<` merge keys, later duplicate keys winning, keys turned into
 *   strings (ints, floats, booleans) and anything else an error, Inf/NaN an error.
 * - marshal: keys in go-yaml's natural order (digit runs compared as numbers), sequences not
 *   indented under their key, strings that would read back as another type double-quoted.
 * Reading is yaml-decode.ts, the scalar rules yaml-resolve.ts; the `yaml` package writes.
 */
import { Document, Scalar } from 'yaml';
import { stringArg } from './args.js';
import { toJson } from './json-schema.js';
import { rethrowExhaustion, type BuiltinFamily, type RegoValue } from './types.js';
import { sortedElements } from './value-order.js';
import { MAX_DECODED_NODES, yamlUnmarshal } from './yaml-decode.js';
import { foldLongScalars } from './yaml-fold.js';
import { goFormatFloat, resolvePlain } from './yaml-resolve.js';

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
// no folding here: foldLongScalars folds as libyaml does
const STYLE = { indentSeq: false, singleQuote: true, lineWidth: 0, minContentWidth: 0 } as const;

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
    else if (PRINTABLE.test(value) && new Document(value, { version: '1.2' }).toString(STYLE).startsWith('"')) node.type = 'QUOTE_SINGLE';
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
  // the core schema: what must be quoted is decided by go-yaml's rules above, not YAML 1.1's
  const doc = new Document(null, { version: '1.2' });
  const numbers = new NumberSlots();
  doc.contents = toNode(doc, value, numbers) as never;
  const text = foldLongScalars(numbers.fill(doc.toString(STYLE)));
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
      } catch (error) {
        rethrowExhaustion(error);
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
    note: 'Long plain and single-quoted strings are folded at column 80 as go-yaml does; long double-quoted strings (those with control characters) are not folded, and keys over 128 bytes are written as plain keys rather than go-yaml\'s `? key` form (both read back as the same value).',
  },
};
