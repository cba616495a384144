/**
 * The live map with workers > 1 (admin_ui): each worker counts its own Checks
 * (observability/live/live-summary.ts); while a page is connected, the primary asks every running
 * worker for its window once per page update and merges them. A worker that does not answer within
 * `timeoutMs` is left out of that update (the page shows how many answered). Nothing is asked while
 * no page is connected.
 */
import cluster, { type Worker } from 'node:cluster';
import { mergeWindows, type LiveWindow } from '../observability/live/live-summary.js';
import { isWorkerMessage } from './messages.js';

interface Round {
  waiting: Set<Worker>;
  windows: LiveWindow[];
  done: () => void;
}

export class LiveCollector {
  readonly #targets: () => readonly Worker[];
  readonly #timeoutMs: number;
  readonly #rounds = new Map<number, Round>();
  #nextId = 1;
  readonly #onMessage = (worker: Worker, message: unknown) => {
    if (!isWorkerMessage(message) || message.gatehouse !== 'live-window') return;
    const round = this.#rounds.get(message.id);
    if (!round || !round.waiting.delete(worker)) return;
    round.windows.push(message.window);
    if (round.waiting.size === 0) round.done();
  };

  /** `targets`: the workers to ask (the pool's running ones). */
  constructor(targets: () => readonly Worker[], timeoutMs = 500) {
    this.#targets = targets;
    this.#timeoutMs = timeoutMs;
    cluster.on('message', this.#onMessage);
  }

  /** Every answering worker's window, merged; `reporting` of `running` workers answered in time. */
  async collect(): Promise<{ window: LiveWindow; reporting: number; running: number }> {
    const targets = this.#targets();
    const id = this.#nextId++;
    const round: Round = { waiting: new Set(targets), windows: [], done: () => undefined };
    const finished = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.#timeoutMs);
      round.done = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#rounds.set(id, round);
    for (const worker of targets) {
      try {
        worker.send({ gatehouse: 'live-request', id });
      } catch {
        round.waiting.delete(worker); // its channel closed meanwhile
      }
    }
    if (round.waiting.size === 0) round.done();
    await finished;
    this.#rounds.delete(id);
    return { window: mergeWindows(round.windows, Date.now()), reporting: round.windows.length, running: targets.length };
  }

  close(): void {
    cluster.off('message', this.#onMessage);
    for (const round of this.#rounds.values()) round.done();
    this.#rounds.clear();
  }
}
