/**
 * Shadow evaluation of a candidate policy: after the response for a Check has been sent, the
 * candidate decides the same input, and a difference from the active decision is counted and
 * logged with a summary of the request. The candidate never affects an answer.
 */
import { decisionFromResultSet } from '../authz/decision.js';
import type { Outcome } from '../authz/outcome.js';
import { GatehouseError, describeThrown } from '../errors.js';
import type { PolicyStore } from './policy-store.js';

export type ShadowComparison = 'agree' | 'allow_to_deny' | 'deny_to_allow';

export interface ShadowResult {
  revision: string;
  allowed: boolean;
  reason: string;
  comparison: ShadowComparison;
}

const encoder = new TextEncoder();

export class ShadowEvaluator {
  readonly #candidate: PolicyStore;
  readonly #samplePercent: number;
  readonly #random: () => number;

  constructor(candidate: PolicyStore, samplePercent: number, random: () => number = Math.random) {
    this.#candidate = candidate;
    this.#samplePercent = samplePercent;
    this.#random = random;
  }

  /**
   * The candidate's view of this Check, or undefined when not sampled, not loaded, or no input.
   * A Promise when the candidate evaluates on an evaluation thread (eval_timeout_ms > 0): a
   * runaway candidate is stopped at the deadline there and counts as a candidate error.
   */
  compare(outcome: Outcome): ShadowResult | Promise<ShadowResult> | undefined {
    const policy = this.#candidate.current();
    if (!policy || !outcome.input || this.#random() * 100 >= this.#samplePercent) return undefined;
    const json = JSON.stringify(outcome.input);
    if (policy.offThread) {
      return policy.evaluateOffThread(json).then(
        (resultSet) => judge(policy.revision, outcome, resultSet),
        (error: unknown) => judge(policy.revision, outcome, undefined, error),
      );
    }
    try {
      return judge(policy.revision, outcome, policy.evaluate(encoder.encode(json).buffer as ArrayBuffer));
    } catch (error) {
      return judge(policy.revision, outcome, undefined, error);
    }
  }
}

/** Compare the candidate's result set (or its error: it would have denied, fail closed) with the outcome. */
function judge(revision: string, outcome: Outcome, resultSet: unknown, error?: unknown): ShadowResult {
  let allowed = false;
  let reason: string;
  try {
    if (error !== undefined) throw error;
    const decision = decisionFromResultSet(resultSet);
    allowed = decision.allowed;
    reason = decision.reason ?? (allowed ? 'allowed by policy' : 'denied by policy');
  } catch (thrown) {
    allowed = false;
    reason = `candidate error: ${thrown instanceof GatehouseError && thrown.code === 'eval_timeout' ? 'eval_timeout: ' : ''}${describeThrown(thrown)}`;
  }
  const comparison: ShadowComparison = allowed === outcome.allowed ? 'agree' : outcome.allowed ? 'allow_to_deny' : 'deny_to_allow';
  return { revision, allowed, reason, comparison };
}
