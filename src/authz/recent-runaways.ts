/**
 * A short memory of decision-cache keys whose evaluation ran past eval_timeout_ms. The policy is
 * deterministic and the key holds the bundle digest and every input field the policy reads
 * (cache/plan.ts), so the same key runs away again: for RUNAWAY_MEMORY_MS it is denied
 * `eval_timeout` at once instead of costing another eval_timeout_ms of an evaluation thread and a
 * thread replacement. Only where the decision cache is on and the policy's cache plan is enabled
 * (no key otherwise). Bounded: the oldest entry is forgotten first.
 */

/** How long a runaway key is denied without evaluating, ms. */
export const RUNAWAY_MEMORY_MS = 5000;
/** Keys kept at most. */
export const RUNAWAY_MEMORY_ENTRIES = 1024;

export class RecentRunaways {
  // Insertion-ordered: the first key is the oldest.
  readonly #until = new Map<string, number>();
  readonly #nowMs: () => number;
  readonly #ttlMs: number;
  readonly #maxEntries: number;

  /** @param nowMs a monotonic clock, ms. */
  constructor(nowMs: () => number = () => performance.now(), ttlMs = RUNAWAY_MEMORY_MS, maxEntries = RUNAWAY_MEMORY_ENTRIES) {
    this.#nowMs = nowMs;
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
  }

  /** Remember that `key`'s evaluation was stopped at the deadline. */
  add(key: string): void {
    this.#until.delete(key);
    this.#until.set(key, this.#nowMs() + this.#ttlMs);
    for (const oldest of this.#until.keys()) {
      if (this.#until.size <= this.#maxEntries) break;
      this.#until.delete(oldest);
    }
  }

  /** Whether `key` ran away within the last RUNAWAY_MEMORY_MS. */
  has(key: string): boolean {
    const until = this.#until.get(key);
    if (until === undefined) return false;
    if (this.#nowMs() < until) return true;
    this.#until.delete(key);
    return false;
  }

  get size(): number {
    return this.#until.size;
  }
}
