/**
 * A memo for what builtins compile from their arguments (regexes, templates, keys), bounded by
 * entries and by the total length of the keys, so a policy fed huge or ever-changing patterns from
 * the request cannot grow the process. Oldest first out; a key longer than an eighth of the
 * budget is never kept (its value is computed every time).
 */
export class BoundedMemo<V> {
  readonly #entries = new Map<string, V>();
  readonly #maxEntries: number;
  readonly #maxChars: number;
  #chars = 0;

  constructor(maxEntries: number, maxChars = 4 << 20) {
    this.#maxEntries = maxEntries;
    this.#maxChars = maxChars;
  }

  /** The value for `key`, computed by `make` on a miss (a throw from `make` is not remembered). */
  get(key: string, make: () => V): V {
    const hit = this.#entries.get(key);
    if (hit !== undefined) return hit;
    const value = make();
    if (key.length > this.#maxChars / 8) return value;
    while (this.#entries.size > 0 && (this.#entries.size >= this.#maxEntries || this.#chars + key.length > this.#maxChars)) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
      this.#chars -= oldest.length;
    }
    this.#entries.set(key, value);
    this.#chars += key.length;
    return value;
  }

  get size(): number {
    return this.#entries.size;
  }
}
