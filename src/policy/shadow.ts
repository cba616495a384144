/**
 * Shadow evaluation of a candidate policy: after the response for a Check has been sent, the
 * candidate decides the same input, and a difference from the active decision is counted and
 * logged with a summary of the request. The candidate never affects an answer.
 *
 * On evaluation threads (eval_timeout_ms > 0) the candidate's results come later, so three bounds
 * keep a slow or runaway candidate from costing the server: at most `maxPending` shadow evaluations
 * wait at once (beyond that a Check is not sampled; counted, told through onSkipped), a Check's
 * decision-log line waits at most `holdMs` for its shadow result (then it is written without it,
 * saying so; the late result still reaches onLate for metrics), and evaluations cut off by shutdown
 * are no comparison at all.
 */
import { decisionFromResultSet } from '../authz/decision.js';
import type { Outcome } from '../authz/outcome.js';
import { GatehouseError, describeThrown } from '../errors.js';
import { EvalThreadsClosed } from './eval-threads.js';
import type { PolicyStore } from './policy-store.js';

export type ShadowComparison = 'agree' | 'allow_to_deny' | 'deny_to_allow';

export interface ShadowResult {
  revision: string;
  allowed: boolean;
  reason: string;
  comparison: ShadowComparison;
}

/** The candidate's result was not ready within holdMs: the decision-log line is written without it. */
export interface ShadowNotReady {
  revision: string;
  notReady: true;
  /** How long the line waited, ms. */
  heldMs: number;
}

/**
 * Shadow evaluations waiting at once, at most: a runaway candidate on its one thread finishes one
 * evaluation per eval_timeout_ms plus a thread start (~10/s at 100 ms, fewer with restarts), so 64
 * is seconds of backlog already; each holds its Check's Outcome (input and all) until it ends.
 */
export const MAX_SHADOW_PENDING = 64;

export interface ShadowOptions {
  /** See MAX_SHADOW_PENDING. */
  maxPending?: number;
  /** Longest a Check's decision-log line waits for its shadow result, ms (app.ts: the wall-clock backstop of one evaluation plus a thread start). Default 2000. */
  holdMs?: number;
  /** Told each time a Check is not sampled because maxPending are waiting; `total` counts them since start. */
  onSkipped?: (total: number) => void;
  /** A shadow result that came after its line was written without it (holdMs): for metrics. */
  onLate?: (outcome: Outcome, result: ShadowResult) => void;
  random?: () => number;
}

const encoder = new TextEncoder();

export class ShadowEvaluator {
  readonly #candidate: PolicyStore;
  readonly #samplePercent: number;
  readonly #random: () => number;
  readonly #maxPending: number;
  readonly #holdMs: number;
  readonly #options: ShadowOptions;
  #pending = 0;
  /** Checks not sampled because maxPending shadow evaluations were waiting. */
  skipped = 0;

  constructor(candidate: PolicyStore, samplePercent: number, options: ShadowOptions | (() => number) = {}) {
    const opts = typeof options === 'function' ? { random: options } : options;
    this.#candidate = candidate;
    this.#samplePercent = samplePercent;
    this.#random = opts.random ?? Math.random;
    this.#maxPending = opts.maxPending ?? MAX_SHADOW_PENDING;
    this.#holdMs = opts.holdMs ?? 2000;
    this.#options = opts;
  }

  /** Shadow evaluations waiting now. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * The candidate's view of this Check, or undefined when not sampled, not loaded, or no input.
   * A Promise when the candidate evaluates on an evaluation thread (eval_timeout_ms > 0): a
   * runaway candidate is stopped at the deadline there and counts as a candidate error.
   */
  compare(outcome: Outcome): ShadowResult | Promise<ShadowResult | ShadowNotReady | undefined> | undefined {
    const policy = this.#candidate.current();
    if (!policy || !outcome.input || this.#random() * 100 >= this.#samplePercent) return undefined;
    if (policy.offThread && this.#pending >= this.#maxPending) {
      this.skipped++;
      this.#options.onSkipped?.(this.skipped);
      return undefined;
    }
    const json = JSON.stringify(outcome.input);
    if (policy.offThread) {
      this.#pending++;
      let written = false;
      const result = policy.evaluateOffThread(json).then(
        (resultSet) => judge(policy.revision, outcome, resultSet),
        // Cut off by shutdown: the candidate decided nothing, so there is nothing to compare.
        (error: unknown) => (error instanceof EvalThreadsClosed ? undefined : judge(policy.revision, outcome, undefined, error)),
      );
      void result.then((judged) => {
        this.#pending--;
        if (written && judged) this.#options.onLate?.(outcome, judged);
      });
      const startedMs = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const notReady = new Promise<ShadowNotReady>((resolve) => {
        timer = setTimeout(() => {
          written = true;
          resolve({ revision: policy.revision, notReady: true, heldMs: Math.round(performance.now() - startedMs) });
        }, this.#holdMs);
        timer.unref();
      });
      return Promise.race([result, notReady]).finally(() => clearTimeout(timer));
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
