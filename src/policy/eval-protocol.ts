/**
 * The messages between the main thread (policy/eval-threads.ts) and an evaluation thread
 * (policy/eval-worker.ts), and the layout of the progress SharedArrayBuffer the thread writes.
 */
import { readSync } from 'node:fs';

/**
 * Int32 slot: what is being evaluated now, -1 when the thread is idle: the batch id's low 15 bits
 * << 16 | the position in that batch (< 2^16). One word, so it is never read half-updated.
 */
export const PROGRESS_INDEX = 0;
/**
 * Int32 slot: the thread's Linux thread id (for /proc/self/task/<tid>/schedstat), 0 until the
 * thread has started, -1 when its run time cannot be read (no /proc, not Linux).
 */
export const PROGRESS_TID = 1;
/** Float64 slot (at byte 8): when that evaluation started, ms on the shared clock (timeOrigin + now). */
export const PROGRESS_STARTED_MS = 0;
/**
 * Float64 slot: the thread's CPU run time (ns, schedstat's first field) when it started the batch
 * that is running (read once per batch, before its first item's progress word is published).
 */
export const PROGRESS_BATCH_CPU_NS = 1;
/** Float64 slot: when that batch started, ms on the shared clock. */
export const PROGRESS_BATCH_STARTED_MS = 2;
/** Byte offset of the Float64 slots. */
export const PROGRESS_FLOATS_OFFSET = 8;
export const PROGRESS_BYTES = 32;

/**
 * The run time of a thread, ns: the first field of a Linux schedstat file
 * (/proc/thread-self/schedstat, /proc/self/task/<tid>/schedstat: "run_ns wait_ns timeslices\n"),
 * read with pread on a kept descriptor (about 1.5 µs).
 * @throws Error from the read (the thread has ended, /proc is gone).
 */
export function readRunTimeNs(fd: number, buffer: Buffer): number {
  const length = readSync(fd, buffer, 0, buffer.length, 0);
  const text = buffer.toString('latin1', 0, length);
  const runNs = Number(text.slice(0, text.indexOf(' ')));
  if (!Number.isFinite(runNs)) throw new Error(`unexpected schedstat text: ${JSON.stringify(text)}`);
  return runNs;
}

export interface EvalBatchItem {
  /** The id the policy was loaded under. */
  policy: number;
  /** The input document, JSON text. */
  input: string;
  decisionId?: string;
  quiet?: boolean;
}

export interface EvalItemResult {
  /** The result set as JSON text (absent when the evaluation failed). */
  json?: string;
  /** The evaluation failed (policy abort, out of memory, ...): the message. */
  error?: string;
  /** The policy's print lines, in order (absent when quiet). */
  prints?: string[];
  validUntilNs?: bigint;
  builtinErrors?: string[];
}

export type ToThread =
  | { kind: 'load'; id: number; module: WebAssembly.Module; data: Uint8Array; entrypoint: number; maxMemoryBytes: number }
  | { kind: 'unload'; id: number }
  | { kind: 'batch'; batch: number; items: EvalBatchItem[] };

export type FromThread =
  | { kind: 'loaded'; id: number; error?: string }
  | { kind: 'results'; batch: number; results: EvalItemResult[] };
