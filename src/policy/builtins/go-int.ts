/**
 * OPA's `builtins.IntOperand`: a number that fits Go's int (int64), else an operand error.
 */
import { numberArg } from './args.js';
import { BuiltinError, type RegoValue } from './types.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * The operand as a JS number. Integers beyond ±2^53 (still within int64) are returned rounded:
 * every caller uses the value as a count or a limit, where that makes no difference.
 */
export function goIntArg(builtin: string, position: number, value: RegoValue | undefined): number {
  const n = numberArg(builtin, position, value);
  const integral = typeof n === 'bigint' ? n : Number.isInteger(n) ? BigInt(n) : undefined;
  if (integral === undefined || integral < INT64_MIN || integral > INT64_MAX) {
    throw new BuiltinError(builtin, `operand ${position} must be integer number but got floating-point number`);
  }
  return Number(integral);
}
