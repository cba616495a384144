/**
 * Host builtins: numbers.range_step, rand.intn (topdown/numbers.go). numbers.range itself is
 * compiled into policy.wasm.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { integerArg, stringArg } from './args.js';
import { BuiltinError, type BuiltinFamily, type RegoValue } from './types.js';

/** An evaluation must not build arrays without bound: OPA relies on cancellation, gatehouse on this. */
export const MAX_RANGE_LENGTH = 1_000_000;

const asNumber = (n: bigint): RegoValue => (n >= -BigInt(Number.MAX_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n);

function rangeStep(from: bigint, to: bigint, step: bigint): RegoValue[] {
  if (step <= 0n) throw new BuiltinError('numbers.range_step', 'step must be a positive integer');
  const span = from <= to ? to - from : from - to;
  if (span / step + 1n > BigInt(MAX_RANGE_LENGTH)) {
    throw new BuiltinError('numbers.range_step', `more than ${MAX_RANGE_LENGTH} numbers in range`);
  }
  const out: RegoValue[] = [];
  if (from <= to) for (let i = from; i <= to; i += step) out.push(asNumber(i));
  else for (let i = from; i >= to; i -= step) out.push(asNumber(i));
  return out;
}

/** A uniform integer in [0, n), n > 0. */
function randomBelow(n: bigint): bigint {
  if (n <= 2n ** 48n - 1n) return BigInt(randomInt(Number(n)));
  const bytes = Math.ceil(n.toString(2).length / 8) + 8; // 64 spare bits: negligible modulo bias
  return BigInt(`0x${randomBytes(bytes).toString('hex')}`) % n;
}

export const numbersBuiltins: BuiltinFamily = {
  'numbers.range_step': {
    fn: (_ctx, a, b, step) =>
      rangeStep(integerArg('numbers.range_step', 1, a), integerArg('numbers.range_step', 2, b), integerArg('numbers.range_step', 3, step)),
    note: `Ranges longer than ${MAX_RANGE_LENGTH} numbers are an error in gatehouse (OPA builds them until the evaluation is cancelled).`,
  },
  'rand.intn': {
    fn: (ctx, str, nArg) => {
      const s = stringArg('rand.intn', 1, str);
      let n = integerArg('rand.intn', 2, nArg);
      // Go's IntOperand: n must fit in an int
      if (n > (1n << 63n) - 1n || n < -(1n << 63n)) throw new BuiltinError('rand.intn', 'operand 2 must be integer number but got floating-point number');
      if (n === 0n) return 0;
      if (n < 0n) n = -n;
      // OPA's cache key: the same string and |n| give the same number within one evaluation
      const key = `rand.intn\u0000${s}-${n}`;
      const seen = ctx.memo.get(key);
      if (seen !== undefined) return seen;
      const value = asNumber(randomBelow(n));
      ctx.memo.set(key, value);
      return value;
    },
    nondeterministic: true,
    note: 'A random integer in [0, |n|); the same string and |n| give the same number within one evaluation, as in OPA; n = 0 gives 0.',
  },
};
