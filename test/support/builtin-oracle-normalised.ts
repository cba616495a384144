/**
 * builtin-oracle's comparison for results whose form is not part of the contract: set results
 * (a JSON array in policy.wasm's own order from gatehouse, sorted from opa eval) and error lists
 * whose order may differ. Both sides are normalised the same way before they are compared.
 */
import { expect } from 'vitest';
import type { RegoValue } from '../../src/policy/builtins/types.js';
import { compareValues } from '../../src/policy/builtins/value-order.js';
import { differences, evaluateBoth, type BuiltinCase, type Outcome } from './builtin-oracle.js';

/** A set result (an array on both sides) in one order. */
export const sortedArray = (outcome: Outcome): Outcome => (Array.isArray(outcome) ? [...(outcome as RegoValue[])].sort(compareValues) : outcome);

/**
 * Evaluate with opa eval and gatehouse, normalise each outcome with `normalise(outcome, case)`,
 * expect no difference and at least `minDefined` of the cases defined. Returns the raw outcomes.
 */
export function expectSameAsOpaNormalised(
  opa: string,
  cases: readonly BuiltinCase[],
  normalise: (outcome: Outcome, c: BuiltinCase) => Outcome,
  options: { minDefined: number },
): { opa: Outcome[]; gatehouse: Outcome[] } {
  const raw = evaluateBoth(opa, cases);
  const both = {
    opa: raw.opa.map((o, i) => normalise(o, cases[i]!)),
    gatehouse: raw.gatehouse.map((o, i) => normalise(o, cases[i]!)),
  };
  expect(differences(cases, both)).toEqual([]);
  expect(both.opa.filter((v) => v !== undefined).length).toBeGreaterThanOrEqual(cases.length * options.minDefined);
  return raw;
}
