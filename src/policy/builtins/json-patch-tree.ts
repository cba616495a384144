/**
 * A port of OPA's edit tree (internal/edittree), which json.patch applies its operations to. Kept
 * operation for operation rather than replaced by a plain copy-on-write patcher, because OPA's
 * results depend on its bookkeeping: an array remembers which original elements were removed and
 * where new ones were inserted, and an index not edited before is looked up in the *original*
 * array, so `add /a/0` followed by `replace /a/2/x` edits what was the original third element.
 * Where Go panics (a nil child, an index missing from its maps), this throws.
 */
import { typeName } from './args.js';
import { BuiltinError, type RegoObject, type RegoValue } from './types.js';
import { objectGet, regoEqual, setHas, valueKey, valueKind } from './value-order.js';

const fail = (message: string) => new BuiltinError('json.patch', message);
const isComposite = (v: RegoValue) => valueKind(v) !== 'scalar';

/** toIndex: a number, or a string of an integer without leading zeros, or "-" (the end). */
export function toIndex(length: number, key: RegoValue): number {
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

/** ast Value.Find with a one-element path: the child, or undefined where Find errors. */
function find(value: RegoValue, key: RegoValue): RegoValue | undefined {
  switch (valueKind(value)) {
    case 'object':
      return objectGet(value, key);
    case 'set':
      return setHas(value as Set<RegoValue>, key) ? key : undefined;
    case 'array': {
      const a = value as RegoValue[];
      if (typeof key !== 'number' || !Number.isInteger(key) || key < 0 || key >= a.length) return undefined;
      return a[key];
    }
    default:
      return undefined;
  }
}

type Slot = string | number;

/** Go's nil *Term / *EditTree in a child map: the child was deleted (distinct from a JSON null). */
const DELETED = Symbol('deleted');
type Deleted = typeof DELETED;

export class EditTree {
  value: RegoValue | undefined;
  childKeys = new Map<Slot, RegoValue>();
  childScalarValues = new Map<Slot, RegoValue | Deleted>();
  childCompositeValues = new Map<Slot, EditTree | Deleted>();
  /** Which original array elements were removed (1). */
  eliminated: number[] = [];
  /** Which array positions hold a new value (1) rather than an original element (0). */
  insertions: number[] = [];

  constructor(value: RegoValue) {
    this.value = value;
    if (Array.isArray(value)) this.#resetArray(value.length);
  }

  #resetArray(length: number): void {
    this.eliminated = new Array<number>(length).fill(0);
    this.insertions = new Array<number>(length).fill(0);
  }

  #clearChildren(): void {
    this.childKeys.clear();
    this.childScalarValues.clear();
    this.childCompositeValues.clear();
  }

  #deleteChildValue(slot: Slot): void {
    this.childScalarValues.delete(slot);
    this.childCompositeValues.delete(slot);
  }

  #setChild(slot: Slot, value: RegoValue, child: EditTree): void {
    if (isComposite(value)) this.childCompositeValues.set(slot, child);
    else this.childScalarValues.set(slot, value);
  }

  /** A set whose key is composite is rendered back into a plain value first. */
  #collapse(): void {
    this.value = this.render();
    this.#clearChildren();
  }

  insert(key: RegoValue, value: RegoValue): EditTree {
    if (this.value === undefined) throw fail('deleted node encountered during insert operation');
    switch (valueKind(this.value)) {
      case 'object':
        return this.#insertKeyed(key, value);
      case 'set':
        if (!regoEqual(key, value)) throw fail('set key does not equal value to be inserted');
        if (isComposite(key)) this.#collapse();
        return this.#insertKeyed(key, value);
      case 'array': {
        const idx = toIndex(this.insertions.length, key);
        if (idx < 0 || idx > this.insertions.length) throw fail('index for array insertion out of bounds');
        return this.#insertArray(idx, value);
      }
      default:
        throw fail(`expected composite type, found value of type ${typeName(this.value)}`);
    }
  }

  #insertKeyed(key: RegoValue, value: RegoValue): EditTree {
    const slot = valueKey(key);
    if (this.childKeys.has(slot)) this.#deleteChildValue(slot);
    this.childKeys.set(slot, key);
    const child = new EditTree(value);
    this.#setChild(slot, value, child);
    return child;
  }

  /** The positions after `from` holding new values, split by kind (Go panics on one in neither map). */
  #rewrites(from: number): [number[], number[]] {
    const scalars: number[] = [];
    const composites: number[] = [];
    for (let i = from; i < this.insertions.length; i++) {
      if (this.insertions[i] !== 1) continue;
      if (this.childScalarValues.has(i)) scalars.push(i);
      else if (this.childCompositeValues.has(i)) composites.push(i);
      else throw fail(`invalid index ${i} during Insert operation`);
    }
    return [scalars, composites];
  }

  #insertArray(idx: number, value: RegoValue): EditTree {
    const [scalars, composites] = this.#rewrites(idx);
    for (const i of [...scalars].reverse()) {
      const v = this.childScalarValues.get(i)!;
      this.#deleteChildValue(i);
      this.childScalarValues.set(i + 1, v);
    }
    for (const i of [...composites].reverse()) {
      const v = this.childCompositeValues.get(i)!;
      this.#deleteChildValue(i);
      this.childCompositeValues.set(i + 1, v);
    }
    this.insertions.splice(idx, 0, 1);
    const child = new EditTree(value);
    this.#setChild(idx, value, child);
    return child;
  }

  delete(key: RegoValue): EditTree | undefined {
    if (this.value === undefined) throw fail('deleted node encountered during delete operation');
    switch (valueKind(this.value)) {
      case 'object': {
        const slot = valueKey(key);
        if (!this.childKeys.has(slot)) return this.#fallbackDelete(key);
        return this.#deleteKeyed(slot, key);
      }
      case 'set':
        if (isComposite(key)) this.#collapse();
        else {
          const slot = valueKey(key);
          const child = this.childScalarValues.get(slot);
          if (this.childKeys.has(slot) && this.childScalarValues.has(slot)) {
            if (child === DELETED) throw fail(`cannot delete the already deleted scalar node for key ${valueKey(key)}`);
            if (regoEqual(key, child!)) {
              this.childKeys.set(slot, key);
              this.childScalarValues.set(slot, DELETED);
              return new EditTree(child!);
            }
          }
        }
        return this.#fallbackDelete(key);
      case 'array':
        return this.#deleteArray(toIndex(this.insertions.length, key));
      default:
        throw fail(`expected composite type, found value of type ${typeName(this.value)}`);
    }
  }

  #deleteKeyed(slot: Slot, key: RegoValue): EditTree | undefined {
    if (this.childScalarValues.has(slot)) {
      const child = this.childScalarValues.get(slot)!;
      if (child === DELETED) throw fail('cannot delete the already deleted scalar node');
      this.childKeys.set(slot, key);
      this.childScalarValues.set(slot, DELETED);
      return new EditTree(child);
    }
    if (this.childCompositeValues.has(slot)) {
      const child = this.childCompositeValues.get(slot)!;
      if (child === DELETED) throw fail('cannot delete the already deleted composite node');
      this.childKeys.set(slot, key);
      this.childCompositeValues.set(slot, DELETED);
      return child;
    }
    throw fail('child key found in neither child map');
  }

  #fallbackDelete(key: RegoValue): EditTree {
    const value = find(this.value!, key);
    if (value === undefined) throw fail(`cannot delete child key ${valueKey(key)} that does not exist`);
    const slot = valueKey(key);
    this.childKeys.set(slot, key);
    if (isComposite(value)) this.childCompositeValues.set(slot, DELETED);
    else this.childScalarValues.set(slot, DELETED);
    return new EditTree(value);
  }

  #deleteArray(idx: number): EditTree | undefined {
    if (idx < 0 || idx > this.insertions.length - 1) throw fail('index for array delete out of bounds');
    const found = this.childCompositeValues.get(idx);
    const deleted = found === DELETED ? undefined : found;
    const [scalars, composites] = this.#rewrites(idx + 1);
    this.#deleteChildValue(idx);
    for (const i of scalars) {
      const v = this.childScalarValues.get(i)!;
      this.#deleteChildValue(i);
      this.childScalarValues.set(i - 1, v);
    }
    for (const i of composites) {
      const v = this.childCompositeValues.get(i)!;
      this.#deleteChildValue(i);
      this.childCompositeValues.set(i - 1, v);
    }
    if (this.insertions[idx] === 0) {
      // knock out the original element this position showed: the (zeros before idx + 1)-th live one
      const n = 1 + this.insertions.slice(0, idx).filter((b) => b === 0).length;
      let seen = 0;
      const at = this.eliminated.findIndex((b) => b === 0 && ++seen === n);
      if (at < 0) throw fail(`could not successfully eliminate index ${idx} from array`);
      this.eliminated[at] = 1;
    }
    this.insertions.splice(idx, 1);
    return deleted;
  }

  unfold(path: RegoValue[]): EditTree {
    if (path.length === 0) return this;
    if (this.value === undefined) throw fail('nil value encountered where composite value was expected');
    const key = path[0]!;
    const rest = path.slice(1);
    switch (valueKind(this.value)) {
      case 'object': {
        const slot = valueKey(key);
        if (this.childKeys.has(slot)) {
          if (this.childScalarValues.has(slot)) {
            const term = this.childScalarValues.get(slot)!;
            if (term === DELETED) throw fail('cannot unfold the already deleted scalar node');
            return new EditTree(term).unfold(rest);
          }
          const child = this.childCompositeValues.get(slot);
          if (child === DELETED) throw fail('cannot unfold the already deleted composite node');
          if (child === undefined) throw fail('child key found in neither child map');
          return child.unfold(rest);
        }
        const v = find(this.value, key);
        if (v === undefined) throw fail(`path ${valueKey(key)} does not exist in object`);
        return this.insert(key, v).unfold(rest);
      }
      case 'set': {
        if (isComposite(key)) this.#collapse();
        else {
          const slot = valueKey(key);
          if (this.childKeys.has(slot) && this.childScalarValues.has(slot)) {
            const term = this.childScalarValues.get(slot)!;
            // Go builds a nil tree from a deleted element and dereferences it
            if (term === DELETED) throw fail('cannot unfold a deleted set element');
            return new EditTree(term).unfold(rest);
          }
        }
        const v = find(this.value!, key);
        if (v === undefined) throw fail(`path ${valueKey(key)} does not exist in set`);
        return this.insert(key, v).unfold(rest);
      }
      case 'array': {
        const idx = toIndex(this.insertions.length, key);
        const term = this.childScalarValues.get(idx);
        if (term === DELETED) throw fail('cannot unfold a deleted array element');
        if (this.childScalarValues.has(idx)) return new EditTree(term!).unfold(rest);
        const child = this.childCompositeValues.get(idx);
        if (child === DELETED) throw fail('cannot unfold a deleted array element');
        if (child) return child.unfold(rest);
        // not edited yet: looked up in the original array, by this index
        const v = find(this.value, idx);
        if (v === undefined) throw fail(`path ${idx} does not exist in array`);
        this.delete(idx);
        return this.insert(idx, v).unfold(rest);
      }
      default:
        throw fail(`expected composite type for path ${valueKey(key)}, found value of type ${typeName(this.value)}`);
    }
  }

  render(): RegoValue | undefined {
    const value = this.value;
    if (value === undefined) return undefined;
    switch (valueKind(value)) {
      case 'object':
      case 'set':
        return this.childKeys.size === 0 ? value : this.#renderKeyed(value);
      case 'array': {
        const original = value as RegoValue[];
        const out: RegoValue[] = [];
        let e = 0;
        for (let i = 0; i < this.insertions.length; i++) {
          if (this.insertions[i] === 0) {
            while (e < this.eliminated.length && this.eliminated[e] !== 0) e++;
            if (e >= this.eliminated.length) throw fail(`too many eliminated indexes in array, expected to find uneliminated index ${i}`);
            out.push(original[e]!);
            e++;
          } else {
            const term = this.childScalarValues.get(i);
            const child = this.childCompositeValues.get(i);
            if (term !== undefined && term !== DELETED) out.push(term);
            else if (child !== undefined && child !== DELETED) out.push(child.render()!);
            else throw fail(`invalid index ${i} does not exist in array`);
          }
        }
        return out;
      }
      default:
        return value;
    }
  }

  #renderKeyed(value: RegoValue): RegoValue {
    const pairs: [RegoValue, RegoValue][] = [];
    const skip = new Set<string>();
    for (const [slot, term] of this.childScalarValues) {
      skip.add(valueKey(this.childKeys.get(slot)!));
      if (term !== DELETED) pairs.push([this.childKeys.get(slot)!, term]);
    }
    for (const [slot, child] of this.childCompositeValues) {
      skip.add(valueKey(this.childKeys.get(slot)!));
      if (child !== DELETED) pairs.push([this.childKeys.get(slot)!, child.render()!]);
    }
    if (value instanceof Set) {
      const out = new Set<RegoValue>(pairs.map(([, v]) => v));
      for (const element of value) if (!skip.has(valueKey(element))) out.add(element);
      return out;
    }
    const original: [RegoValue, RegoValue][] = value instanceof Map ? [...value] : Object.entries(value as RegoObject);
    for (const [k, v] of original) if (!skip.has(valueKey(k))) pairs.push([k, v]);
    return toObject(pairs);
  }

  insertAtPath(path: RegoValue[], value: RegoValue | undefined): EditTree {
    if (value === undefined) throw fail('cannot insert nil value into EditTree');
    if (path.length === 0) {
      this.value = value;
      this.#clearChildren();
      if (Array.isArray(value)) this.#resetArray(value.length);
      return this;
    }
    return this.unfold(path.slice(0, -1)).insert(path[path.length - 1]!, value);
  }

  deleteAtPath(path: RegoValue[]): void {
    if (path.length === 0) {
      if (this.value === undefined) throw fail('deleted node encountered during delete operation');
      this.value = undefined;
      this.#clearChildren();
      return;
    }
    this.unfold(path.slice(0, -1)).delete(path[path.length - 1]!);
  }

  renderAtPath(path: RegoValue[]): RegoValue | undefined {
    return this.unfold(path).render();
  }
}

/** An object from key/value pairs (a Map once a key is not a string); later pairs win. */
function toObject(pairs: [RegoValue, RegoValue][]): RegoValue {
  if (pairs.every(([k]) => typeof k === 'string')) {
    const out = Object.create(null) as RegoObject;
    for (const [k, v] of pairs) out[k as string] = v;
    return out;
  }
  const out = new Map<RegoValue, RegoValue>();
  for (const [k, v] of pairs) {
    for (const existing of out.keys()) if (regoEqual(existing, k)) out.delete(existing);
    out.set(k, v);
  }
  return out;
}
