/**
 * A Rego value as OPA prints it in policy syntax (ast Value.String(), v1/ast/term_appenders.go):
 * strings Go-quoted, `[a, b]`, `{"k": v}` and `{a, b}` in OPA's sorted order, `set()`. sprintf
 * formats every argument that is not a number or a string this way.
 */
import { goQuote } from './go-quote.js';
import type { RegoValue } from './types.js';
import { sortedElements, sortedEntries } from './value-order.js';

/** A number's text: integers in full, others as JavaScript's shortest form (OPA keeps the source text). */
export function numberText(value: number | bigint): string {
  if (typeof value === 'bigint') return value.toString();
  if (Number.isInteger(value) && Math.abs(value) < 1e21) return BigInt(value).toString();
  return String(value);
}

export function regoText(value: RegoValue): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
    case 'bigint':
      return numberText(value);
    case 'string':
      return goQuote(value);
    default:
      break;
  }
  if (Array.isArray(value)) return `[${value.map(regoText).join(', ')}]`;
  if (value instanceof Set) return value.size === 0 ? 'set()' : `{${sortedElements(value).map(regoText).join(', ')}}`;
  const entries = sortedEntries(value);
  if (entries.length === 0) return '{}';
  return `{${entries.map(([k, v]) => `${regoText(k)}: ${regoText(v)}`).join(', ')}}`;
}
