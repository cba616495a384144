/**
 * Equality and ordering of Rego values as OPA defines them (ast/compare.go): null < booleans <
 * numbers < strings < arrays < objects < sets; numbers by value (1 == 1.0, a bigint equals the same
 * float), strings by their UTF-8 bytes (Go's string order), arrays element-wise then by length,
 * objects by sorted keys then values, sets by sorted elements. Builtins use it for set membership,
 * subset checks and for writing sets and objects in OPA's canonical order.
 */
import type { RegoValue } from './types.js';

function rank(value: RegoValue): number {
  if (value === null) return 0;
  switch (typeof value) {
    case 'boolean':
      return 1;
    case 'number':
    case 'bigint':
      return 2;
    case 'string':
      return 3;
    default:
      if (Array.isArray(value)) return 6;
      if (value instanceof Set) return 8;
      return 7;
  }
}

/** A value's shape, for builtins that treat collections by kind (object.subset, json.patch). */
export type ValueKind = 'object' | 'set' | 'array' | 'scalar';

export function valueKind(v: RegoValue): ValueKind {
  if (v === null || typeof v !== 'object') return 'scalar';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Set) return 'set';
  return 'object';
}

/** Compare two strings by UTF-8 bytes (code points), not UTF-16 units as `<` does. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

export function compareNumbers(a: number | bigint, b: number | bigint): number {
  if (typeof a === typeof b) return a < b ? -1 : a > b ? 1 : 0;
  // a bigint against a float: compare exactly when the float is integral, else by magnitude
  const big = typeof a === 'bigint' ? a : (b as bigint);
  const num = typeof a === 'number' ? a : (b as number);
  let order: number;
  if (Number.isInteger(num)) order = big < BigInt(num) ? -1 : big > BigInt(num) ? 1 : 0;
  else order = Number(big) < num ? -1 : 1;
  return typeof a === 'bigint' ? order : -order;
}

/** Entries of an object (plain or Map), keys sorted in OPA's order. */
export function sortedEntries(value: RegoValue): [RegoValue, RegoValue][] {
  const entries: [RegoValue, RegoValue][] = value instanceof Map ? [...value] : Object.entries(value as object);
  return entries.sort((x, y) => compareValues(x[0], y[0]));
}

/** A set's elements in OPA's order. */
export function sortedElements(set: Set<RegoValue>): RegoValue[] {
  return [...set].sort(compareValues);
}

export function compareValues(a: RegoValue, b: RegoValue): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 0:
      return 0;
    case 1:
      return a === b ? 0 : a ? 1 : -1;
    case 2:
      return compareNumbers(a as number | bigint, b as number | bigint);
    case 3:
      return compareStrings(a as string, b as string);
    case 6:
      return compareLists(a as RegoValue[], b as RegoValue[]);
    case 8:
      return compareLists(sortedElements(a as Set<RegoValue>), sortedElements(b as Set<RegoValue>));
    default: {
      const ea = sortedEntries(a);
      const eb = sortedEntries(b);
      const n = Math.min(ea.length, eb.length);
      for (let i = 0; i < n; i++) {
        const k = compareValues(ea[i]![0], eb[i]![0]);
        if (k !== 0) return k;
        const v = compareValues(ea[i]![1], eb[i]![1]);
        if (v !== 0) return v;
      }
      return ea.length - eb.length < 0 ? -1 : ea.length > eb.length ? 1 : 0;
    }
  }
}

function compareLists(a: RegoValue[], b: RegoValue[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareValues(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

export function regoEqual(a: RegoValue, b: RegoValue): boolean {
  return compareValues(a, b) === 0;
}

/** Does `set` hold a value equal to `value` (by Rego equality, not JS identity)? */
export function setHas(set: Set<RegoValue>, value: RegoValue): boolean {
  if (value === null || typeof value !== 'object') {
    if (set.has(value)) return true;
    if (typeof value !== 'number' && typeof value !== 'bigint') return false;
  }
  for (const item of set) if (regoEqual(item, value)) return true;
  return false;
}

/** Lookup in an object (plain or Map) by a Rego key. */
export function objectGet(object: RegoValue, key: RegoValue): RegoValue | undefined {
  if (object instanceof Map) {
    if (object.has(key)) return object.get(key);
    for (const [k, v] of object) if (regoEqual(k, key)) return v;
    return undefined;
  }
  if (typeof key !== 'string' || object === null || typeof object !== 'object') return undefined;
  return Object.hasOwn(object, key) ? (object as Record<string, RegoValue>)[key] : undefined;
}

/** A set of values with Rego equality (for building result sets without duplicates). */
export class ValueSet {
  readonly #items = new Set<RegoValue>();
  readonly #keys = new Set<string>();

  add(value: RegoValue): void {
    const key = valueKey(value);
    if (this.#keys.has(key)) return;
    this.#keys.add(key);
    this.#items.add(value);
  }

  has(value: RegoValue): boolean {
    return this.#keys.has(valueKey(value));
  }

  get size(): number {
    return this.#items.size;
  }

  toSet(): Set<RegoValue> {
    return this.#items;
  }
}

/** A canonical text for a value: equal values (by Rego equality) give the same text. */
export function valueKey(value: RegoValue): string {
  if (value === null) return 'n';
  switch (typeof value) {
    case 'boolean':
      return value ? 't' : 'f';
    case 'number':
      return Number.isInteger(value) ? `#${BigInt(value)}` : `#${value}`;
    case 'bigint':
      return `#${value}`;
    case 'string':
      return JSON.stringify(value);
    default:
      break;
  }
  if (Array.isArray(value)) return `[${value.map(valueKey).join(',')}]`;
  if (value instanceof Set) return `<${[...value].map(valueKey).sort().join(',')}>`;
  const entries = value instanceof Map ? [...value] : Object.entries(value);
  return `{${entries.map(([k, v]) => `${valueKey(k)}:${valueKey(v)}`).sort().join(',')}}`;
}
