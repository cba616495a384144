/**
 * Progress of a long read of decision logs (`learn`, `replay`), for a person at a terminal: a
 * month of logs is hundreds of millions of lines, minutes of silence otherwise. One line on
 * standard error every `everyMs`, only when standard error is a terminal (never in pipelines or
 * tests reading the output).
 */
import { printable } from './printable.js';

/** Lines between two looks at the clock: the clock is not read per line. */
const CHECK_EVERY_LINES = 4096;

export class ReadProgress {
  readonly #write: (text: string) => void;
  readonly #command: string;
  readonly #everyMs: number;
  readonly #now: () => number;
  #last: number;
  #lines = 0;

  /** `write` takes whole lines; `everyMs` (milliseconds) between two of them; `now` in milliseconds. */
  constructor(write: (text: string) => void, command: string, everyMs = 5000, now: () => number = Date.now) {
    this.#write = write;
    this.#command = command;
    this.#everyMs = everyMs;
    this.#now = now;
    this.#last = now();
  }

  /** One more line read from `file`. */
  line(file: string): void {
    this.#lines++;
    if (this.#lines % CHECK_EVERY_LINES !== 0) return;
    const now = this.#now();
    if (now - this.#last < this.#everyMs) return;
    this.#last = now;
    this.#write(`gatehouse ${this.#command}: ${this.#lines.toLocaleString('en-US')} lines read so far (now in ${printable(file)})\n`);
  }
}

/** A ReadProgress writing to `stderr` when standard error is a terminal, else undefined. */
export function terminalProgress(stderr: (text: string) => void, command: string): ReadProgress | undefined {
  return process.stderr.isTTY ? new ReadProgress(stderr, command) : undefined;
}
