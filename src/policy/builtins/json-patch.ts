/**
 * json.patch (RFC 6902) with OPA's semantics (topdown/json.go applyPatches over
 * internal/edittree): paths are JSON pointers (leading slashes trimmed, `~1` and `~0` unescaped)
 * or arrays of keys of any type; sets are patched by value (`add` needs the last key to equal the
 * value); array indexes accept "-" (append) and refuse leading zeros; `replace` is remove then add;
 * any failing operation makes the whole call an error.
 */
import { typeName } from './args.js';
import { BuiltinError, type RegoObject, type RegoValue } from './types.js';
import { objectGet, regoEqual, setHas, valueKind } from './value-order.js';

const fail = (message: string) => new BuiltinError('json.patch', message);

/** parsePath */
function parsePath(path: RegoValue): RegoValue[] {
  if (typeof path === 'string') {
    if (path === '') return [];
    const unescape = (part: string) => part.replaceAll('~1', '/').replaceAll('~0', '~');
    return path.replace(/^\/+/, '').split('/').map(unescape);
  }
  if (Array.isArray(path)) return path;
  throw fail(`operand 2 must be one of {set, array} containing string paths or array of path segments but got ${typeName(path)}`);
}

/** toIndex: a number, or a string of an integer without leading zeros, or "-" (the end). */
function toIndex(length: number, key: RegoValue): number {
  if (typeof key === 'number' || typeof key === 'bigint') {
    if (typeof key === 'bigint' || !Number.isInteger(key)) throw fail('invalid number type for indexing');
    return key;
  }
  if (typeof key === 'string') {
    if (key === '-') return length;
    if (!/^[+-]?\d+$/.test(key)) throw fail('invalid string for indexing');
    if (key !== '0' && key.startsWith('0')) throw fail('leading zeros are not allowed in JSON paths');
    return Number(key);
  }
  throw fail('invalid type for indexing');
}

const kind = valueKind;

/** Copy an object with `key` set to `value` (a Map once any key is not a string). */
function withKey(obj: RegoValue, key: RegoValue, value: RegoValue | undefined): RegoValue {
  if (obj instanceof Map || typeof key !== 'string') {
    const map = new Map<RegoValue, RegoValue>(obj instanceof Map ? obj : Object.entries(obj as RegoObject));
    for (const k of map.keys()) if (regoEqual(k, key)) map.delete(k);
    if (value !== undefined) map.set(key, value);
    return map;
  }
  const out = Object.assign(Object.create(null) as RegoObject, obj);
  if (value === undefined) delete out[key];
  else out[key] = value;
  return out;
}

function withoutElement(set: Set<RegoValue>, element: RegoValue): Set<RegoValue> {
  return new Set([...set].filter((e) => !regoEqual(e, element)));
}

/** The child at `key` (Unfold's lookup); throws where OPA's Unfold fails. */
function child(node: RegoValue, key: RegoValue): RegoValue {
  switch (kind(node)) {
    case 'object': {
      const v = objectGet(node, key);
      if (v === undefined) throw fail(`path ${JSON.stringify(key)} does not exist in object`);
      return v;
    }
    case 'set':
      if (!setHas(node as Set<RegoValue>, key)) throw fail(`path ${JSON.stringify(key)} does not exist in set`);
      return key;
    case 'array': {
      const a = node as RegoValue[];
      const i = toIndex(a.length, key);
      if (i < 0 || i >= a.length) throw fail(`path ${i} does not exist in array`);
      return a[i]!;
    }
    default:
      throw fail(`expected composite type for path ${JSON.stringify(key)}, found value of type ${typeName(node)}`);
  }
}

/** Replace the child at `key` (which exists) with `value`. */
function replaceChild(node: RegoValue, key: RegoValue, value: RegoValue): RegoValue {
  switch (kind(node)) {
    case 'object':
      return withKey(node, key, value);
    case 'set':
      return withoutElement(node as Set<RegoValue>, key).add(value);
    default: {
      const a = [...(node as RegoValue[])];
      a[toIndex(a.length, key)] = value;
      return a;
    }
  }
}

/** Insert: object key set, set element added (key must equal value), array element inserted. */
function insert(node: RegoValue, key: RegoValue, value: RegoValue): RegoValue {
  switch (kind(node)) {
    case 'object':
      return withKey(node, key, value);
    case 'set':
      if (!regoEqual(key, value)) throw fail('set key does not equal value to be inserted');
      return withoutElement(node as Set<RegoValue>, key).add(value);
    case 'array': {
      const a = node as RegoValue[];
      const i = toIndex(a.length, key);
      if (i < 0 || i > a.length) throw fail('index for array insertion out of bounds');
      return [...a.slice(0, i), value, ...a.slice(i)];
    }
    default:
      throw fail(`expected composite type, found value of type ${typeName(node)}`);
  }
}

function remove(node: RegoValue, key: RegoValue): RegoValue {
  switch (kind(node)) {
    case 'object':
      if (objectGet(node, key) === undefined) throw fail(`cannot delete child key ${JSON.stringify(key)} that does not exist`);
      return withKey(node, key, undefined);
    case 'set':
      if (!setHas(node as Set<RegoValue>, key)) throw fail(`cannot delete child key ${JSON.stringify(key)} that does not exist`);
      return withoutElement(node as Set<RegoValue>, key);
    case 'array': {
      const a = node as RegoValue[];
      const i = toIndex(a.length, key);
      if (i < 0 || i > a.length - 1) throw fail('index for array delete out of bounds');
      return [...a.slice(0, i), ...a.slice(i + 1)];
    }
    default:
      throw fail(`expected composite type, found value of type ${typeName(node)}`);
  }
}

/** Apply `edit` to the parent of the path's last key, rebuilding the path above it. */
function editAt(doc: RegoValue | undefined, path: RegoValue[], edit: (parent: RegoValue, key: RegoValue) => RegoValue): RegoValue {
  if (doc === undefined) throw fail('deleted node encountered');
  if (path.length === 1) return edit(doc, path[0]!);
  const key = path[0]!;
  return replaceChild(doc, key, editAt(child(doc, key), path.slice(1), edit));
}

function valueAt(doc: RegoValue | undefined, path: RegoValue[]): RegoValue {
  if (doc === undefined) throw fail('deleted node encountered');
  let node = doc;
  for (const key of path) node = child(node, key);
  return node;
}

function add(doc: RegoValue | undefined, path: RegoValue[], value: RegoValue): RegoValue {
  return path.length === 0 ? value : editAt(doc, path, (parent, key) => insert(parent, key, value));
}

function del(doc: RegoValue | undefined, path: RegoValue[]): RegoValue | undefined {
  if (path.length === 0) {
    if (doc === undefined) throw fail('deleted node encountered during delete operation');
    return undefined;
  }
  return editAt(doc, path, remove);
}

function attribute(op: RegoObject, name: string): RegoValue {
  const v = objectGet(op, name);
  if (v === undefined) throw fail(`missing required attribute '${name}'`);
  return v;
}

/** applyPatches; undefined when the patches delete the whole document. */
export function jsonPatch(source: RegoValue, operations: RegoValue[]): RegoValue | undefined {
  let doc: RegoValue | undefined = source;
  for (const op of operations) {
    if (kind(op) !== 'object') throw fail('must be an array of JSON-Patch objects, but at least one element is not an object');
    const o = op as RegoObject;
    attribute(o, 'path');
    const name = attribute(o, 'op');
    if (typeof name !== 'string') throw fail(`attribute 'op' must be a string but found: ${typeName(name)}`);
    const path = parsePath(attribute(o, 'path'));
    switch (name) {
      case 'add':
        doc = add(doc, path, attribute(o, 'value'));
        break;
      case 'remove':
        doc = del(doc, path);
        break;
      case 'replace':
        doc = del(doc, path);
        doc = add(doc, path, attribute(o, 'value'));
        break;
      case 'move': {
        const from = parsePath(attribute(o, 'from'));
        const chunk = valueAt(doc, from);
        doc = add(del(doc, from), path, chunk);
        break;
      }
      case 'copy': {
        const from = parsePath(attribute(o, 'from'));
        doc = add(doc, path, valueAt(doc, from));
        break;
      }
      case 'test': {
        const chunk = valueAt(doc, path);
        if (!regoEqual(chunk, attribute(o, 'value'))) throw fail('value from EditTree != patch value');
        break;
      }
      default:
        throw fail(`unrecognized op: '${name}'`);
    }
  }
  return doc;
}
