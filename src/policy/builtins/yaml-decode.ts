/**
 * yaml.unmarshal's reading (sigs.k8s.io/yaml YAMLToJSON over go-yaml v2): the first document, plain
 * scalars resolved as go-yaml does, `<<` merge keys, later duplicate keys winning, keys made strings
 * (ints, floats, booleans; anything else an error), values that JSON cannot hold (Inf, NaN) an error.
 * The `yaml` package parses with its failsafe schema, so every scalar arrives as text.
 */
import { CST, isAlias, isMap, isScalar, isSeq, type Node, Parser, parseAllDocuments, type Scalar } from 'yaml';
import { newObject } from './args.js';
import { BuiltinError, type RegoObject, type RegoValue } from './types.js';
import { goFormatFloat, INT64_MAX, MAP, type Resolved, resolvePlain, TAG, timestampAsText } from './yaml-resolve.js';

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
export const MAX_DECODED_NODES = 100_000;

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

/**
 * go-yaml stops reading once the first document's root node is complete: whatever follows (a
 * dedented line, a second root, even broken syntax) is never parsed. The text up to the end of
 * that node, as the yaml package's CST locates it. A block collection is complete only when the
 * next content is indented less than it (or a document marker): content at its own column would
 * continue it, and libyaml reports what does not fit there as an error.
 */
function firstRootNode(text: string, builtin: string): string {
  for (const token of new Parser().parse(text)) {
    if (token.type !== 'document') continue;
    if (!token.value) return text;
    const root = token.value;
    // (the CST may end with the next line's indentation: leave that to the next line)
    const end = root.offset + CST.stringify(root).replace(/[ \t]+$/, '').length;
    if (root.type === 'block-map' || root.type === 'block-seq') {
      const column = root.offset - (text.lastIndexOf('\n', root.offset - 1) + 1);
      const next = text
        .slice(end)
        .split(/\r?\n/)
        .find((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
      if (next !== undefined && !/^(---|\.\.\.)(\s|$)/.test(next) && next.length - next.trimStart().length >= column) {
        throw fail(builtin, 'did not find expected content continuing the document\'s root collection');
      }
    }
    return text.slice(0, end);
  }
  return text;
}

export function yamlUnmarshal(source: string, builtin = 'yaml.unmarshal'): RegoValue {
  const text = firstRootNode(source, builtin);
  const docs = parseAllDocuments(text, { schema: 'failsafe', uniqueKeys: false, strict: false, prettyErrors: false });
  if (!Array.isArray(docs)) return null; // an empty stream
  const first = docs[0];
  if (!first) return null;
  if (first.errors.length > 0) throw fail(builtin, first.errors[0]!.message);
  return new Decoder(first as never, builtin).value(first.contents);
}

// ---- marshal ----
