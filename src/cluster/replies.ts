/**
 * The primary's questions to its workers (load this bundle? your metrics?): one request per
 * worker, each settled by the worker's reply, a timeout, or the worker's exit, whichever is first.
 */
export class Replies<T> {
  /** Pending requests by "slot:id", each with its settle function and the answer for an exit. */
  readonly #pending = new Map<string, { settle: (answer: T) => void; gone: T }>();
  #next = 0;

  /**
   * Asks every worker in `slots` (slot numbers): `send(slot, id)` sends the request carrying `id`.
   * Resolves, in the order of `slots`, with each reply, or `timedOut` after `timeoutMs`, or `gone`
   * when the worker exits first.
   */
  ask(slots: readonly number[], send: (slot: number, id: number) => void, timeoutMs: number, timedOut: T, gone: T): Promise<T[]> {
    const id = ++this.#next;
    return Promise.all(
      slots.map(
        (slot) =>
          new Promise<T>((resolve) => {
            const key = `${slot}:${id}`;
            const timer = setTimeout(() => settle(timedOut), timeoutMs);
            const settle = (answer: T) => {
              clearTimeout(timer);
              this.#pending.delete(key);
              resolve(answer);
            };
            this.#pending.set(key, { settle, gone });
            send(slot, id);
          }),
      ),
    );
  }

  /** A worker's reply to request `id`. */
  answer(slot: number, id: number, answer: T): void {
    this.#pending.get(`${slot}:${id}`)?.settle(answer);
  }

  /** The worker in `slot` exited: its pending requests are settled as gone. */
  exited(slot: number): void {
    for (const [key, pending] of [...this.#pending]) if (key.startsWith(`${slot}:`)) pending.settle(pending.gone);
  }
}
