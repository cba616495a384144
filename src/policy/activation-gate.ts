/**
 * The activation gate: before a new bundle replaces the active one, it decides a bounded sample of
 * recent live inputs that the active bundle decided. If it errs (undefined decision, conflict,
 * evaluation error, an invalid decision) on an input the active bundle ALLOWED, it is refused like
 * an invalid bundle and the active one keeps serving: such a bundle would turn working traffic into
 * error denies. An error on an input the active bundle denied is still a deny for that caller, and
 * any caller can send such inputs, so refusing on them would let anyone block every rollout: those
 * are counted and listed like flips. Two exceptions: a candidate that runs past eval_timeout_ms on
 * any recent input is refused (a runaway would turn every such Check into eval_timeout and cost a
 * thread each), and so is a candidate that erred on every input it checked before the budget ran out
 * (it is not activated "on the inputs it checked"). A decision that flips (allow ↔ deny) is the
 * point of most policy changes, so flips are only summarised.
 *
 * The sample is not emptied when a bundle becomes active, so the next candidate meets it too.
 * The inputs live in memory only, in a ring of distinct inputs (policy/sample-key.ts: the fields
 * the policy reads, or the input without per-request ids and times) bounded by count and bytes. The
 * gate runs inside a reload while Checks are being answered: it yields to the event loop every few
 * milliseconds of evaluation (with eval_timeout_ms, the candidate runs on a thread of its own,
 * started for the gate and ended after it, under the deadline: never on the threads serving
 * Checks), and stops at a total time budget, counted from when that thread holds the candidate.
 * Running out of budget is not a refusal (a slow policy is not a broken one): the summary says how
 * many inputs went unchecked.
 */
import { decisionFromResultSet } from '../authz/decision.js';
import type { Outcome } from '../authz/outcome.js';
import { GatehouseError, toGatehouseError } from '../errors.js';
import type { EvaluationCall } from '../authz/authorize.js';
import type { CachePlan } from '../cache/plan.js';
import { EvalThreads, type EvalThreadsOptions } from './eval-threads.js';
import type { WasmPolicy } from './evaluator.js';
import { sampleKey } from './sample-key.js';

interface Sample {
  decisionId: string;
  allowed: boolean;
  /** The input document as serialized JSON: the form evaluate() takes. */
  json: string;
  /** What makes it distinct (policy/sample-key.ts); counted in the bytes with `json`. */
  key: string;
  /** The bundle that decided it (by digest: revisions can repeat); samples outlive activations. */
  digest: string;
}

export interface GateSummary {
  checked: number;
  /** Inputs the candidate errs on but the active policy no longer decides either (time-dependent policies). */
  skipped: number;
  allowToDeny: number;
  denyToAllow: number;
  /** Inputs the active policy denied and the candidate errs on (still a deny for the caller). */
  denyToError: number;
  /** Decision ids of the first few inputs whose decision flips (or turns from deny to error), for the log. */
  flipped: string[];
  /** Inputs left unchecked because the gate's time budget ran out. */
  unchecked: number;
}

export interface GateTiming {
  /** Evaluation time after which the gate yields to the event loop (pending Checks run). */
  sliceMs: number;
  /** Total time after which the gate stops checking (the candidate is not refused for that). */
  budgetMs: number;
  /** A monotonic clock in ms. */
  nowMs: () => number;
}

/** The gate's own evaluation thread for the candidate (when the policies run on evaluation threads). */
export interface GateThread {
  /** eval_timeout_ms. */
  timeoutMs: number;
  /** Told when the gate's thread is replaced (the candidate ran away): name the candidate. */
  onReplaced?: EvalThreadsOptions['onReplaced'];
  /** The thread's code; default as EvalThreads. */
  workerUrl?: URL;
}

export const DEFAULT_GATE_TIMING: GateTiming = { sliceMs: 5, budgetMs: 2000, nowMs: () => performance.now() };

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

const encoder = new TextEncoder();

/**
 * Live inputs carry live secrets (tokens, cookies), and neither the policy's print() lines nor its
 * error messages (which quote values) are safe to show: every gate evaluation runs quiet, and a
 * refusal names only the error code and the input's decision id.
 */
const quiet = (): EvaluationCall => ({ quiet: true });
const FLIPS_LISTED = 5;

export class RecentInputs {
  // Insertion-ordered: the first key is the oldest sample.
  readonly #samples = new Map<string, Sample>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #nowMs: () => number;
  #bytes = 0;
  // Admissions: a token bucket refilled at maxEntries per second, holding up to 2 x maxEntries.
  #tokens: number;
  #refilledAtMs: number;

  /**
   * `maxEntries` samples (activation_gate_inputs) of at most `maxBytes` characters in all.
   * At most `maxEntries` Checks a second are admitted (bursts of up to twice that), so under load
   * the samples span about the last second of traffic instead of the last few milliseconds, and a
   * busy server does not keep every Check's input text alive long enough for V8 to move it to the
   * old generation: recording every Check at 5,000 Checks/s promoted ~45 MB/s there and grew the
   * heap to ~85 MB between major collections (`node bench/peak-rss.mjs`). `nowMs`: a monotonic clock in ms.
   */
  constructor(maxEntries: number, maxBytes: number, nowMs: () => number = () => performance.now()) {
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
    this.#nowMs = nowMs;
    this.#tokens = 2 * maxEntries;
    this.#refilledAtMs = nowMs();
  }

  /**
   * Keeps the input of a Check the policy evaluated and decided (not an error, not refused before
   * the policy). Cache hits are left out: the text the policy saw is only at hand when it ran (no
   * second serialisation per Check), and a hit's input was decided once already.
   */
  record(outcome: Outcome, decidedBy: { digest: string; cachePlan: CachePlan }): void {
    const json = outcome.inputJson;
    if (this.#maxEntries === 0 || json === undefined || outcome.error || outcome.hygiene) return;
    if (outcome.reasonLabel !== 'policy_allowed' && outcome.reasonLabel !== 'policy_denied') return;
    if (json.length > this.#maxBytes) return;
    if (!this.#admit()) return;
    const key = sampleKey(outcome.input, json, decidedBy.cachePlan);
    const known = this.#samples.get(key);
    if (known) this.#forget(key, known); // re-inserted below as the newest
    this.#samples.set(key, { decisionId: outcome.decisionId, allowed: outcome.allowed, json, key, digest: decidedBy.digest });
    this.#bytes += size(json, key);
    for (const [oldestKey, oldest] of this.#samples) {
      if (this.#samples.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break;
      this.#forget(oldestKey, oldest);
    }
  }

  #admit(): boolean {
    const now = this.#nowMs();
    const capacity = 2 * this.#maxEntries;
    this.#tokens = Math.min(capacity, this.#tokens + ((now - this.#refilledAtMs) * this.#maxEntries) / 1000);
    this.#refilledAtMs = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  get size(): number {
    return this.#samples.size;
  }

  /**
   * Decides every sample with `candidate`. Throws bundle_invalid naming the first sample `active`
   * allowed (and still decides) that the candidate errs on; otherwise summarises the flips and the
   * denies that became errors. An allowed input `active` no longer decides either (a token that has
   * expired since) says nothing against the candidate and is skipped.
   *
   * Samples are kept across activations (a second bad bundle right after a good one must still
   * meet them): one decided by an earlier bundle is decided again by `active` first.
   */
  async check(candidate: WasmPolicy, active: WasmPolicy, timing: GateTiming = DEFAULT_GATE_TIMING, thread?: GateThread): Promise<GateSummary> {
    if (!thread || !candidate.offThread) return this.#check(candidate, active, timing, undefined);
    const pool = new EvalThreads({ timeoutMs: thread.timeoutMs, spare: false, onReplaced: thread.onReplaced, workerUrl: thread.workerUrl });
    try {
      try {
        await candidate.prepareOn(pool);
      } catch (error) {
        throw new GatehouseError('bundle_invalid', `activation gate: revision ${candidate.revision} does not load in an evaluation thread: ${toGatehouseError(error, 'eval_error').message}`);
      }
      return await this.#check(candidate, active, timing, pool);
    } finally {
      await pool.close();
    }
  }

  async #check(candidate: WasmPolicy, active: WasmPolicy, timing: GateTiming, pool: EvalThreads | undefined): Promise<GateSummary> {
    const summary: GateSummary = { checked: 0, skipped: 0, allowToDeny: 0, denyToAllow: 0, denyToError: 0, flipped: [], unchecked: 0 };
    // A copy: Checks answered while the gate yields keep recording samples.
    const samples = [...this.#samples.values()];
    const started = timing.nowMs();
    let sliceStarted = started;
    for (const [index, sample] of samples.entries()) {
      const now = timing.nowMs();
      if (now - started >= timing.budgetMs) {
        summary.unchecked = samples.length - index;
        break;
      }
      if (now - sliceStarted >= timing.sliceMs) {
        await yieldToEventLoop();
        sliceStarted = timing.nowMs();
      }
      const input = sample.json;
      let before: boolean | undefined = sample.allowed;
      if (sample.digest !== active.digest) {
        before = await decision(active, input);
        if (before === undefined) {
          summary.skipped++;
          continue;
        }
      }
      let allowed: boolean;
      try {
        allowed = decisionFromResultSet(await (pool ? candidate.evaluateOn(pool, input, quiet()) : evaluate(candidate, input))).allowed;
      } catch (error) {
        if (error instanceof GatehouseError && error.code === 'eval_timeout') {
          throw new GatehouseError(
            'bundle_invalid',
            `activation gate: revision ${candidate.revision} runs away on a recent input (decision_id ${sample.decisionId}): eval_timeout (stopped at eval_timeout_ms; every such Check would be denied eval_timeout). ` +
              'Fix the policy, or set activation_gate_inputs: 0 to activate bundles unchecked',
          );
        }
        if (!before) {
          summary.checked++;
          summary.denyToError++;
          if (summary.flipped.length < FLIPS_LISTED) summary.flipped.push(sample.decisionId);
          continue;
        }
        if (sample.digest === active.digest && (await decision(active, input)) === undefined) {
          summary.skipped++;
          continue;
        }
        throw new GatehouseError(
          'bundle_invalid',
          `activation gate: revision ${candidate.revision} errs on a recent input the active policy allowed (decision_id ${sample.decisionId}): ${toGatehouseError(error, 'eval_error').code}. ` +
            'Fix the policy (look the decision id up in the decision log; allows may be sampled out or lines dropped), or set activation_gate_inputs: 0 to activate bundles unchecked',
        );
      }
      summary.checked++;
      if (allowed === before) continue;
      if (before) summary.allowToDeny++;
      else summary.denyToAllow++;
      if (summary.flipped.length < FLIPS_LISTED) summary.flipped.push(sample.decisionId);
    }
    if (summary.unchecked > 0 && summary.checked > 0 && summary.denyToError === summary.checked) {
      throw new GatehouseError(
        'bundle_invalid',
        `activation gate: revision ${candidate.revision} erred on every one of the ${summary.checked} recent inputs it checked before the gate's time budget ran out (${summary.unchecked} unchecked); it is not activated on those. ` +
          'Fix the policy, or set activation_gate_inputs: 0 to activate bundles unchecked',
      );
    }
    return summary;
  }

  #forget(key: string, sample: Sample): void {
    this.#samples.delete(key);
    this.#bytes -= size(sample.json, sample.key);
  }
}

/** Characters held for a sample; the key is shared with the JSON when it is the JSON itself. */
function size(json: string, key: string): number {
  return key === json ? json.length : json.length + key.length;
}

/**
 * The result set of `policy` for the input (JSON text): on its evaluation thread when it has one,
 * where a runaway evaluation ends at eval_timeout_ms with an eval_timeout error (an error like any
 * other here), else inline.
 */
function evaluate(policy: WasmPolicy, json: string): unknown {
  return policy.offThread ? policy.evaluateOffThread(json, quiet()) : policy.evaluate(encoder.encode(json), quiet());
}

/** What `policy` decides for `input` now, or undefined when it errs. */
async function decision(policy: WasmPolicy, json: string): Promise<boolean | undefined> {
  try {
    return decisionFromResultSet(await evaluate(policy, json)).allowed;
  } catch {
    return undefined;
  }
}
