/**
 * Shadow evaluation of a candidate policy: after the response for a Check has been sent, the
 * candidate decides the same input, and a difference from the active decision is counted and
 * logged with a summary of the request. The candidate never affects an answer.
 */
import { decisionFromResultSet } from '../authz/decision.js';
import type { Outcome } from '../authz/outcome.js';
import { describeThrown } from '../errors.js';
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

  /** The candidate's view of this Check, or undefined when not sampled, not loaded, or no input. */
  compare(outcome: Outcome): ShadowResult | undefined {
    const policy = this.#candidate.current();
    if (!policy || !outcome.input || this.#random() * 100 >= this.#samplePercent) return undefined;
    let allowed: boolean;
    let reason: string;
    try {
      const decision = decisionFromResultSet(policy.evaluate(encoder.encode(JSON.stringify(outcome.input)).buffer as ArrayBuffer));
      allowed = decision.allowed;
      reason = decision.reason ?? (allowed ? 'allowed by policy' : 'denied by policy');
    } catch (error) {
      // The candidate would have denied (fail closed), for this reason.
      allowed = false;
      reason = `candidate error: ${describeThrown(error)}`;
    }
    const comparison: ShadowComparison = allowed === outcome.allowed ? 'agree' : outcome.allowed ? 'allow_to_deny' : 'deny_to_allow';
    return { revision: policy.revision, allowed, reason, comparison };
  }
}
