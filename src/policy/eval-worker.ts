/**
 * The body of an evaluation thread (policy/eval-threads.ts starts it with node:worker_threads):
 * it hosts compiled policies sent to it and evaluates batches of inputs, one at a time, with the
 * same runtime and host builtins as the inline path (policy/wasm-runtime.ts). Before each
 * evaluation it publishes which batch item is running and since when in a SharedArrayBuffer, so
 * the main thread can tell a runaway evaluation from a queue and terminate the thread
 * (V8's TerminateExecution interrupts a running Wasm loop). Nothing here knows about Checks.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { describeThrown } from '../errors.js';
import type { EvalBatchItem, EvalItemResult, ToThread } from './eval-protocol.js';
import { PROGRESS_INDEX, PROGRESS_STARTED_MS } from './eval-protocol.js';
import { systemClockNs } from './evaluator.js';
import { OpaWasmInstance } from './wasm-runtime.js';

const { progress } = workerData as { progress: SharedArrayBuffer };
const index = new Int32Array(progress, 0, 2);
const startedMs = new Float64Array(progress, 8, 1);

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
port.on('message', (message: ToThread) => {
  switch (message.kind) {
    case 'load':
      try {
        const instance = OpaWasmInstance.instantiate(message.module, message.data, {
          maxMemoryBytes: message.maxMemoryBytes,
          wallClockNs: systemClockNs,
          print: (line) => prints?.push(line),
        });
        hosted.set(message.id, { instance, entrypoint: message.entrypoint });
        port.postMessage({ kind: 'loaded', id: message.id });
      } catch (error) {
        port.postMessage({ kind: 'loaded', id: message.id, error: describeThrown(error) });
      }
      return;
    case 'unload':
      hosted.delete(message.id);
      return;
    case 'batch':
      batchTag = (message.batch & 0x7fff) << 16;
      port.postMessage({ kind: 'results', batch: message.batch, results: message.items.map(evaluate) });
      Atomics.store(index, PROGRESS_INDEX, -1);
  }
});

function evaluate(item: EvalBatchItem, position: number): EvalItemResult {
  startedMs[PROGRESS_STARTED_MS] = performance.timeOrigin + performance.now();
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

