/**
 * The messages between the main thread (policy/eval-threads.ts) and an evaluation thread
 * (policy/eval-worker.ts), and the layout of the progress SharedArrayBuffer the thread writes.
 */

/**
 * Int32 slot: what is being evaluated now, -1 when the thread is idle: the batch id's low 15 bits
 * << 16 | the position in that batch (< 2^16). One word, so it is never read half-updated.
 */
export const PROGRESS_INDEX = 0;
/** Float64 slot (at byte 8): when that evaluation started, ms on the shared clock (timeOrigin + now). */
export const PROGRESS_STARTED_MS = 0;
export const PROGRESS_BYTES = 16;

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
