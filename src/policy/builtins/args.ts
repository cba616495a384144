/**
 * Argument checks shared by the host builtins, with OPA's wording
 * ("operand 1 must be string but got number", topdown/builtins.NewOperandTypeErr), so an error in
 * the decision log reads like `opa eval`'s. Operands are numbered from 1, as in OPA.
 */
import { BuiltinError, type RegoObject, type RegoValue } from './types.js';

/** OPA's type name of a value ("null", "boolean", "number", "string", "array", "set", "object"). */
export function typeName(value: RegoValue | undefined): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return 'number';
  if (Array.isArray(value)) return 'array';
  if (value instanceof Set) return 'set';
  if (value instanceof Map) return 'object';
  return typeof value === 'object' ? 'object' : typeof value;
}

function operandError(builtin: string, position: number, expected: string, got: RegoValue | undefined): BuiltinError {
  return new BuiltinError(builtin, `operand ${position} must be ${expected} but got ${typeName(got)}`);
}

export function stringArg(builtin: string, position: number, value: RegoValue | undefined): string {
  if (typeof value !== 'string') throw operandError(builtin, position, 'string', value);
  return value;
}

export function numberArg(builtin: string, position: number, value: RegoValue | undefined): number | bigint {
  if (typeof value !== 'number' && typeof value !== 'bigint') throw operandError(builtin, position, 'number', value);
  return value;
}

/** An integral number as a bigint (exact beyond 2^53). */
export function integerArg(builtin: string, position: number, value: RegoValue | undefined): bigint {
  const n = numberArg(builtin, position, value);
  if (typeof n === 'bigint') return n;
  if (!Number.isInteger(n)) throw new BuiltinError(builtin, `operand ${position} must be an integer but got ${n}`);
  return BigInt(n);
}

export function booleanArg(builtin: string, position: number, value: RegoValue | undefined): boolean {
  if (typeof value !== 'boolean') throw operandError(builtin, position, 'boolean', value);
  return value;
}

export function arrayArg(builtin: string, position: number, value: RegoValue | undefined): RegoValue[] {
  if (!Array.isArray(value)) throw operandError(builtin, position, 'array', value);
  return value;
}

export function objectArg(builtin: string, position: number, value: RegoValue | undefined): RegoObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Set || value instanceof Map) {
    throw operandError(builtin, position, 'object', value);
  }
  return value;
}

/** An array or a set, as an array of its elements (many OPA builtins accept either). */
export function collectionArg(builtin: string, position: number, value: RegoValue | undefined): RegoValue[] {
  if (Array.isArray(value)) return value;
  if (value instanceof Set) return [...value];
  throw operandError(builtin, position, 'array or set', value);
}

/** A string, or an array/set of strings (e.g. `strings.any_prefix_match`). */
export function stringsArg(builtin: string, position: number, value: RegoValue | undefined): string[] {
  if (typeof value === 'string') return [value];
  const items = collectionArg(builtin, position, value);
  return items.map((item) => {
    if (typeof item !== 'string') throw operandError(builtin, position, 'string, array of strings or set of strings', value);
    return item;
  });
}

/** A plain object with a null prototype, safe for any key (`__proto__` included). */
export function newObject(): RegoObject {
  return Object.create(null) as RegoObject;
}
