/**
 * Host builtin: object.subset (topdown/subset.go). Objects recurse into values that are both
 * objects, both sets or both arrays; sets compare by membership; an array is a subset of another
 * when it appears in it as a contiguous run; a set is a subset of an array when every element
 * appears in it (an empty array has no subsets, as in OPA).
 */
import { BuiltinError, type BuiltinFamily, type RegoValue } from './types.js';
import { objectGet, regoEqual, setHas, valueKind } from './value-order.js';

const kind = valueKind;

const entries = (o: RegoValue): [RegoValue, RegoValue][] => (o instanceof Map ? [...o] : Object.entries(o as object));

function objectSubset(sup: RegoValue, sub: RegoValue): boolean {
  for (const [key, subValue] of entries(sub)) {
    const supValue = objectGet(sup, key);
    if (supValue === undefined) return false;
    if (regoEqual(subValue, supValue)) continue;
    const k = kind(supValue);
    if (k === 'scalar' || k !== kind(subValue) || !subset(supValue, subValue)) return false;
  }
  return true;
}

const setSubset = (sup: Set<RegoValue>, sub: Set<RegoValue>) => [...sub].every((e) => setHas(sup, e));

function arraySubset(sup: RegoValue[], sub: RegoValue[]): boolean {
  if (sub.length > sup.length) return false;
  for (let start = 0; start + sub.length <= sup.length; start++) {
    if (sub.every((e, i) => regoEqual(sup[start + i]!, e))) return true;
  }
  return false;
}

function arraySetSubset(sup: RegoValue[], sub: Set<RegoValue>): boolean {
  let unmatched = sub.size;
  for (const e of sup) {
    if (setHas(sub, e)) unmatched--;
    if (unmatched <= 0) return true;
  }
  return false;
}

function subset(sup: RegoValue, sub: RegoValue): boolean {
  const a = kind(sup);
  const b = kind(sub);
  if (a === 'object' && b === 'object') return objectSubset(sup, sub);
  if (a === 'set' && b === 'set') return setSubset(sup as Set<RegoValue>, sub as Set<RegoValue>);
  if (a === 'array' && b === 'array') return arraySubset(sup as RegoValue[], sub as RegoValue[]);
  if (a === 'array' && b === 'set') return arraySetSubset(sup as RegoValue[], sub as Set<RegoValue>);
  throw new BuiltinError('object.subset', 'both arguments object.subset must be of the same type or array and set');
}

export const objectBuiltins: BuiltinFamily = {
  'object.subset': { fn: (_ctx, sup, sub) => subset(sup!, sub!) },
};
