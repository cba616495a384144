/**
 * The body of an evaluation thread (policy/eval-threads.ts starts it with node:worker_threads):
 * it hosts compiled policies sent to it and evaluates batches of inputs, one at a time, with the
 * same runtime and host builtins as the inline path (policy/wasm-runtime.ts). Before each
 * evaluation it publishes which batch item is running and since when in a SharedArrayBuffer, and at
 * the start of each batch its own CPU run time (Linux schedstat), so the main thread can tell a
 * runaway evaluation from a queue or a starved CPU and terminate the thread
 * (V8's TerminateExecution interrupts a running Wasm loop). Nothing here knows about Checks.
 */
import { openSync, readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { describeThrown } from '../errors.js';
import type { EvalBatchItem, EvalItemResult, ToThread } from './eval-protocol.js';
import {
  PROGRESS_BATCH_CPU_NS,
  PROGRESS_BATCH_STARTED_MS,
  PROGRESS_FLOATS_OFFSET,
  PROGRESS_INDEX,
  PROGRESS_STARTED_MS,
  PROGRESS_TID,
  readRunTimeNs,
} from './eval-protocol.js';
import { systemClockNs } from './evaluator.js';
import { OpaWasmInstance } from './wasm-runtime.js';

const { progress } = workerData as { progress: SharedArrayBuffer };
const index = new Int32Array(progress, 0, 2);
const floats = new Float64Array(progress, PROGRESS_FLOATS_OFFSET, 3);

/**
 * This thread's schedstat, kept open: its run time is read once per batch, so the main thread can
 * count the deadline in CPU time (eval-threads.ts). Undefined where Linux's /proc is not there.
 */
const schedstat = ((): { fd: number; buffer: Buffer } | undefined => {
  try {
    // "/proc/thread-self" links to "<pid>/task/<tid>".
    const tid = Number(readlinkSync('/proc/thread-self').split('/task/')[1]);
    const fd = openSync('/proc/thread-self/schedstat', 'r');
    const buffer = Buffer.alloc(64);
    readRunTimeNs(fd, buffer);
    if (!(tid > 0)) throw new Error('no thread id');
    Atomics.store(index, PROGRESS_TID, tid);
    return { fd, buffer };
  } catch {
    Atomics.store(index, PROGRESS_TID, -1);
    return undefined;
  }
})();

interface Hosted {
  instance: OpaWasmInstance;
  entrypoint: number;
}

const hosted = new Map<number, Hosted>();
/** The print lines of the evaluation in progress, handed back with its result. */
let prints: string[] | undefined;
const encoder = new TextEncoder();
/** The batch being evaluated, in the progress word's upper half (eval-protocol.ts). */
let batchTag = 0;

const port = parentPort!;
/**
 * Messages wait behind a policy being loaded (its host builtin families are imported
 * asynchronously), so a batch never overtakes the load it needs.
 */
let pending: Promise<void> | undefined;
port.on('message', (message: ToThread) => {
  if (pending) {
    const next: Promise<void> = pending.then(() => handle(message));
    pending = next;
    void next.finally(() => {
      if (pending === next) pending = undefined;
    });
    return;
  }
  const loading = handle(message);
  if (loading) {
    pending = loading;
    void loading.finally(() => {
      if (pending === loading) pending = undefined;
    });
  }
});

/** Handles one message; a Promise while a policy's builtins load. */
function handle(message: ToThread): Promise<void> | undefined {
  switch (message.kind) {
    case 'load':
      return load(message);
    case 'unload':
      hosted.delete(message.id);
      return undefined;
    case 'batch':
      batchTag = (message.batch & 0x7fff) << 16;
      floats[PROGRESS_BATCH_CPU_NS] = runTimeNs();
      floats[PROGRESS_BATCH_STARTED_MS] = performance.timeOrigin + performance.now();
      port.postMessage({ kind: 'results', batch: message.batch, results: message.items.map(evaluate) });
      Atomics.store(index, PROGRESS_INDEX, -1);
      return undefined;
  }
}

async function load(message: Extract<ToThread, { kind: 'load' }>): Promise<void> {
  try {
    const instance = OpaWasmInstance.instantiate(message.module, message.data, {
      maxMemoryBytes: message.maxMemoryBytes,
      wallClockNs: systemClockNs,
      print: (line) => prints?.push(line),
    });
    await instance.loadBuiltins();
    hosted.set(message.id, { instance, entrypoint: message.entrypoint });
    port.postMessage({ kind: 'loaded', id: message.id });
  } catch (error) {
    port.postMessage({ kind: 'loaded', id: message.id, error: describeThrown(error) });
  }
}

/** This thread's run time, ns; NaN when it cannot be read (the deadline then counts wall time). */
function runTimeNs(): number {
  try {
    return schedstat ? readRunTimeNs(schedstat.fd, schedstat.buffer) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

function evaluate(item: EvalBatchItem, position: number): EvalItemResult {
  floats[PROGRESS_STARTED_MS] = performance.timeOrigin + performance.now();
  Atomics.store(index, PROGRESS_INDEX, batchTag | position);
  const policy = hosted.get(item.policy);
  if (!policy) return { error: `policy ${item.policy} is not loaded in the evaluation thread` };
  const call = { decisionId: item.decisionId, quiet: item.quiet } as { quiet?: boolean; validUntilNs?: bigint; builtinErrors?: string[] };
  prints = item.quiet ? undefined : [];
  try {
    const json = policy.instance.evaluateJson(encoder.encode(item.input), policy.entrypoint, call);
    return { json, prints, validUntilNs: call.validUntilNs, builtinErrors: call.builtinErrors };
  } catch (error) {
    return { error: describeThrown(error), prints };
  } finally {
    prints = undefined;
  }
}

