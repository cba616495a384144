/**
 * A cluster worker's decision-log sink: whole lines are batched and sent to the primary over IPC,
 * which writes them to the one configured sink (src/cluster/decision-log-relay.ts). A batch only
 * ever holds whole lines, so lines from different workers never interleave mid-line.
 *
 * Bounded like the other sinks: bytes not yet handed to the IPC channel plus bytes the channel has
 * not yet written may not exceed `maxBufferBytes`; a line beyond that is dropped and reported
 * through the 'drop' event (DecisionLog counts it).
 */
import type { LineSink } from '../observability/log-sink.js';
import type { WorkerMessage } from './messages.js';

/** A batch is sent when it reaches this size, else BATCH_MS after its first line: fewer, larger IPC messages cost the primary less per line. */
const BATCH_BYTES = 64 * 1024;
const BATCH_MS = 5;

export type SendToPrimary = (message: WorkerMessage, callback: (error: Error | null) => void) => boolean;

export class IpcLineSink implements LineSink {
  readonly #send: SendToPrimary;
  readonly #maxBufferBytes: number;
  #batch: string[] = [];
  #batchChars = 0;
  #inFlightChars = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #dropListeners: (() => void)[] = [];
  #flushWaiters: (() => void)[] = [];

  constructor(send: SendToPrimary, maxBufferBytes: number) {
    this.#send = send;
    this.#maxBufferBytes = maxBufferBytes;
  }

  /** `line` ends in "\n" (DecisionLog writes one line per call). */
  write(line: string): void {
    if (this.#closed || this.#inFlightChars + this.#batchChars + line.length > this.#maxBufferBytes) {
      for (const listener of this.#dropListeners) listener();
      return;
    }
    this.#batch.push(line);
    this.#batchChars += line.length;
    if (this.#batchChars >= BATCH_BYTES) this.#sendBatch();
    else this.#timer ??= setTimeout(() => this.#sendBatch(), BATCH_MS).unref();
  }

  on(event: 'drop' | 'error', listener: () => void): void {
    if (event === 'drop') this.#dropListeners.push(listener);
  }

  /** Calls back once every line written so far has been written to the IPC channel. */
  flush(callback: (error?: Error | null) => void): void {
    this.#sendBatch();
    if (this.#inFlightChars === 0) callback();
    else this.#flushWaiters.push(() => callback());
  }

  destroy(): void {
    this.#closed = true;
    this.#batch = [];
    this.#batchChars = 0;
  }

  #sendBatch(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#batch.length === 0) return;
    const text = this.#batch.join('');
    const count = this.#batch.length;
    const chars = this.#batchChars;
    this.#batch = [];
    this.#batchChars = 0;
    this.#inFlightChars += chars;
    const done = () => {
      this.#inFlightChars -= chars;
      if (this.#inFlightChars === 0) {
        const waiters = this.#flushWaiters;
        this.#flushWaiters = [];
        for (const waiter of waiters) waiter();
      }
    };
    try {
      // A closed channel (the primary is gone) fails the callback; the lines are lost either way.
      this.#send({ gatehouse: 'log-lines', text, count }, done);
    } catch {
      done();
    }
  }
}
