/**
 * An in-process LRU of policy results, bounded by entries and by bytes, with a TTL per entry.
 * It stores only what evaluation returned (the result and its validated decision); everything
 * per-request (decision id, timings, the input) is made fresh on every Check.
 */
import type { Decision } from '../authz/decision.js';

export interface CachedDecision {
  result: unknown;
  decision: Decision;
}

interface Entry extends CachedDecision {
  expiresAtMs: number;
  bytes: number;
}

export interface DecisionCacheOptions {
  maxEntries: number;
  maxBytes: number;
  nowMs: () => number;
}

export interface CacheStats {
  hits: number;
  misses: number;
  evictions: number;
  entries: number;
  bytes: number;
}

// Per-entry overhead of the Map slot, the entry object and the decision, roughly.
const ENTRY_OVERHEAD_BYTES = 256;

export class DecisionCache {
  readonly #entries = new Map<string, Entry>();
  readonly #options: DecisionCacheOptions;
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(options: DecisionCacheOptions) {
    this.#options = options;
  }

  get(key: string): CachedDecision | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      this.#misses++;
      return undefined;
    }
    if (entry.expiresAtMs <= this.#options.nowMs()) {
      this.#remove(key, entry);
      this.#misses++;
      return undefined;
    }
    // Most recently used goes last; Map keeps insertion order.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    this.#hits++;
    return entry;
  }

  /** Stores a result; an entry larger than 1/16 of the byte bound is not stored. */
  set(key: string, value: CachedDecision, ttlMs: number, resultBytes: number): void {
    const bytes = 2 * key.length + resultBytes + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.#options.maxBytes / 16) return;
    const existing = this.#entries.get(key);
    if (existing) this.#remove(key, existing);
    this.#entries.set(key, { ...value, expiresAtMs: this.#options.nowMs() + ttlMs, bytes });
    this.#bytes += bytes;
    while (this.#entries.size > this.#options.maxEntries || this.#bytes > this.#options.maxBytes) {
      const oldest = this.#entries.entries().next().value;
      if (!oldest) break;
      this.#remove(oldest[0], oldest[1]);
      this.#evictions++;
    }
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  stats(): CacheStats {
    return { hits: this.#hits, misses: this.#misses, evictions: this.#evictions, entries: this.#entries.size, bytes: this.#bytes };
  }

  #remove(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
  }
}
