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

/** A node of the recency list: head is the least recently used, tail the most. */
interface Entry extends CachedDecision {
  key: string;
  expiresAtMs: number;
  bytes: number;
  newer: Entry | undefined;
  older: Entry | undefined;
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

/**
 * A Map for lookup plus a doubly linked recency list for O(1) eviction. (Evicting through the
 * Map's own insertion order is O(holes): V8 leaves deleted slots at the front until it rehashes,
 * and every eviction would scan past them.)
 */
export class DecisionCache {
  readonly #entries = new Map<string, Entry>();
  #oldest: Entry | undefined;
  #newest: Entry | undefined;
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
      this.#remove(entry);
      this.#misses++;
      return undefined;
    }
    this.#unlink(entry);
    this.#append(entry);
    this.#hits++;
    return entry;
  }

  /** Stores a result; an entry larger than 1/16 of the byte bound is not stored. */
  set(key: string, value: CachedDecision, ttlMs: number, resultBytes: number): void {
    const bytes = 2 * key.length + resultBytes + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.#options.maxBytes / 16) return;
    const existing = this.#entries.get(key);
    if (existing) this.#remove(existing);
    const entry: Entry = {
      result: value.result,
      decision: value.decision,
      key,
      expiresAtMs: this.#options.nowMs() + ttlMs,
      bytes,
      newer: undefined,
      older: undefined,
    };
    this.#entries.set(key, entry);
    this.#append(entry);
    this.#bytes += bytes;
    while ((this.#entries.size > this.#options.maxEntries || this.#bytes > this.#options.maxBytes) && this.#oldest) {
      this.#remove(this.#oldest);
      this.#evictions++;
    }
  }

  clear(): void {
    this.#entries.clear();
    this.#oldest = undefined;
    this.#newest = undefined;
    this.#bytes = 0;
  }

  stats(): CacheStats {
    return { hits: this.#hits, misses: this.#misses, evictions: this.#evictions, entries: this.#entries.size, bytes: this.#bytes };
  }

  #remove(entry: Entry): void {
    this.#entries.delete(entry.key);
    this.#unlink(entry);
    this.#bytes -= entry.bytes;
  }

  #append(entry: Entry): void {
    entry.older = this.#newest;
    entry.newer = undefined;
    if (this.#newest) this.#newest.newer = entry;
    else this.#oldest = entry;
    this.#newest = entry;
  }

  #unlink(entry: Entry): void {
    if (entry.older) entry.older.newer = entry.newer;
    else this.#oldest = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else this.#newest = entry.older;
    entry.older = undefined;
    entry.newer = undefined;
  }
}
