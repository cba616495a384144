/**
 * The evaluation deadline (`eval_timeout_ms`): policy evaluations run on an evaluation thread
 * (node:worker_threads) instead of the gRPC thread, so a runaway policy never stalls other Checks,
 * and an evaluation that runs past the deadline is stopped by terminating its thread (V8's
 * TerminateExecution interrupts a running Wasm loop).
 *
 * Two threads serve (one with `spare: false`), each holding every policy. Evaluations queue on the
 * main thread and go to an idle thread in batches: everything queued in one event-loop turn, or
 * while the threads were busy, travels in one message, and the results come back in one message. A
 * thread busy with a batch gets a second one only while its current evaluation is young
 * (PIPELINE_MS), so a thread stuck in a long evaluation receives no more work while the other
 * serves. A deadline timer on the main thread reads which item a thread is evaluating and since
 * when (a SharedArrayBuffer the thread writes, eval-protocol.ts); when that item has run for
 * `timeoutMs`, the thread is terminated, that item fails with `eval_timeout`, the rest of its
 * batches in flight (results of a killed thread are lost) go back to the head of the queue for the
 * surviving thread, and a replacement starts in the background: it gets work once it holds every
 * policy (or when no warm thread is left). Cache hits never come here.
 *
 * The queue is bounded (MAX_QUEUED; beyond it an evaluation is refused with `eval_queue_full`), and
 * an evaluation whose caller's deadline has passed while it waited is dropped before it runs
 * (`deadline_exceeded`), as authorize does before queueing.
 *
 * The thread runs at the gRPC thread's priority. Lowering a long-running evaluation's thread
 * (renice) was tried and dropped: under CPU contention it pushed slow but legitimate evaluations
 * (a few ms) past the deadline.
 */
import { closeSync, existsSync, openSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { GatehouseError } from '../errors.js';
import {
  PROGRESS_BATCH_CPU_NS,
  PROGRESS_BATCH_STARTED_MS,
  PROGRESS_BYTES,
  PROGRESS_FLOATS_OFFSET,
  PROGRESS_INDEX,
  PROGRESS_STARTED_MS,
  PROGRESS_TID,
  readRunTimeNs,
  type EvalBatchItem,
  type EvalItemResult,
  type FromThread,
  type ToThread,
} from './eval-protocol.js';

/** A compiled policy as an evaluation thread needs it. */
export interface ThreadPolicy {
  /** Unique per process (EvalThreads.nextPolicyId). */
  readonly id: number;
  readonly module: WebAssembly.Module;
  /** data.json of the bundle. */
  readonly data: Uint8Array;
  readonly entrypoint: number;
  readonly maxMemoryBytes: number;
}

export interface EvalThreadsOptions {
  /** The deadline of one evaluation, ms (> 0). */
  timeoutMs: number;
  /** Keep a warm spare thread holding every policy, to take over at once after a timeout. Default true. */
  spare?: boolean;
  /** Told when a thread is replaced: `timeout` (terminated at the deadline) or `exit` (it died). */
  onReplaced?: (why: 'timeout' | 'exit', detail: string) => void;
  /** Where the thread's code is; default the eval-worker module next to this one. */
  workerUrl?: URL;
  /**
   * Told once (at construction) when threads' CPU time cannot be read (no Linux /proc): the
   * deadline is then wall-clock time.
   */
  onWallClockDeadline?: (detail: string) => void;
}

/** Wall-clock backstop, as a multiple of timeoutMs: a starved evaluation is stopped after this much wall time whatever CPU it had. */
export const WALL_BACKSTOP_FACTOR = 10;

/** Batches a thread holds at once. */
const MAX_IN_FLIGHT = 2;
/** Items per message; more wait for the next batch. */
const MAX_BATCH = 64;
/**
 * A busy thread gets a second batch only while its current evaluation has run less than this (ms):
 * an ordinary evaluation takes well under a millisecond, so an older one may be a runaway, and work
 * posted behind it would wait for the deadline.
 */
const PIPELINE_MS = 2;
/**
 * Evaluations waiting for a thread, at most. 1024 ordinary evaluations (0.05-0.5 ms each) take two
 * threads up to ~250 ms: beyond Envoy's default ext_authz timeout (200 ms), so a longer queue would
 * only hold Checks whose callers have given up, and memory (each holds its input's JSON).
 */
export const MAX_QUEUED = 1024;

/** What the caller of one evaluation tells the threads. */
export interface EvalCaller {
  /** True once the caller's deadline has passed: a queued evaluation is then dropped before it runs. */
  expired?(): boolean;
}

interface Queued {
  policy: ThreadPolicy;
  item: EvalBatchItem;
  expired: (() => boolean) | undefined;
  resolve(result: EvalItemResult): void;
  reject(error: unknown): void;
}

let policyIds = 0;

/** The rejection of evaluations cut off by close(): they decided nothing. */
export class EvalThreadsClosed extends Error {
  constructor() {
    super('the evaluation threads were closed');
    this.name = 'EvalThreadsClosed';
  }
}

/** The thread's code: compiled JavaScript next to this file, or (running from sources, in tests) a loader for the TypeScript. */
function defaultWorkerUrl(): URL {
  const self = import.meta.url;
  return self.endsWith('.ts') ? new URL('./eval-worker-source.mjs', self) : new URL('./eval-worker.js', self);
}

class EvalThread {
  readonly worker: Worker;
  readonly #index: Int32Array;
  readonly #floats: Float64Array;
  /** The thread's schedstat opened from this side (on the first deadline that needs it). */
  #schedstat: { fd: number; buffer: Buffer } | undefined;
  /** Policies posted to this thread (their load may still be under way). */
  readonly loaded = new Set<number>();
  readonly #loadWaiters = new Map<number, { resolve(): void; reject(error: Error): void }[]>();
  /** Batches posted and not answered yet, by batch id, in posting order. */
  readonly inFlight = new Map<number, Queued[]>();
  timer: NodeJS.Timeout | undefined;
  /** Set when this side ended it (terminate); an exit is then expected. */
  ended = false;
  /** Set on its first message: its code loaded. */
  answered = false;
  /** Policies posted at its start whose load has not answered yet: until then it is cold (not warm). */
  readonly #startLoads = new Set<number>();
  #started = false;

  constructor(url: URL, onMessage: (thread: EvalThread, message: FromThread) => void, onExit: (thread: EvalThread, detail: string) => void) {
    const progress = new SharedArrayBuffer(PROGRESS_BYTES);
    this.#index = new Int32Array(progress, 0, 2);
    this.#floats = new Float64Array(progress, PROGRESS_FLOATS_OFFSET, 3);
    Atomics.store(this.#index, PROGRESS_INDEX, -1);
    // A small young generation: an evaluation thread allocates little JavaScript (the runtime's
    // strings); ~6 MiB less RSS per thread, measured.
    this.worker = new Worker(url, { workerData: { progress }, resourceLimits: { maxYoungGenerationSizeMb: 2 } });
    this.worker.unref();
    this.worker.on('message', (message: FromThread) => {
      this.answered = true;
      if (message.kind === 'loaded') this.#settleLoad(message.id, message.error);
      onMessage(this, message);
    });
    this.worker.on('error', (error) => onExit(this, error.message));
    this.worker.on('exit', (code) => onExit(this, `exit code ${code}`));
  }

  post(message: ToThread): void {
    this.worker.postMessage(message);
  }

  /** Holds every policy it was started with (its start-up loads all answered): it may take work. */
  get warm(): boolean {
    return this.#started && this.#startLoads.size === 0;
  }

  /** Ends the start: the policies loaded so far are the ones it must hold before it is warm. */
  markStarted(): void {
    this.#started = true;
  }

  load(policy: ThreadPolicy): void {
    if (this.loaded.has(policy.id)) return;
    this.loaded.add(policy.id);
    if (!this.#started) this.#startLoads.add(policy.id);
    const { id, module, data, entrypoint, maxMemoryBytes } = policy;
    this.post({ kind: 'load', id, module, data, entrypoint, maxMemoryBytes });
  }

  /** Resolves once the thread has instantiated the policy; rejects with its error. */
  loadedPromise(policy: ThreadPolicy): Promise<void> {
    if (this.ended) return Promise.reject(new Error('the evaluation thread is being replaced'));
    this.load(policy);
    return new Promise((resolve, reject) => {
      const waiters = this.#loadWaiters.get(policy.id) ?? [];
      waiters.push({ resolve, reject });
      this.#loadWaiters.set(policy.id, waiters);
    });
  }

  #settleLoad(id: number, error: string | undefined): void {
    this.#startLoads.delete(id);
    const waiters = this.#loadWaiters.get(id);
    this.#loadWaiters.delete(id);
    if (error) this.loaded.delete(id);
    for (const waiter of waiters ?? []) if (error) waiter.reject(new Error(error));
    else waiter.resolve();
  }

  failLoads(detail: string): void {
    for (const id of [...this.#loadWaiters.keys()]) this.#settleLoad(id, `the evaluation thread ended (${detail})`);
  }

  /**
   * The batch item being evaluated (by the batch id's low 15 bits and the position) and how long
   * it has run (ms); undefined when none is.
   */
  running(): { word: number; batchTag: number; position: number; elapsedMs: number; startedMs: number } | undefined {
    const word = Atomics.load(this.#index, PROGRESS_INDEX);
    if (word < 0) return undefined;
    const startedMs = this.#floats[PROGRESS_STARTED_MS]!;
    return { word, batchTag: word >>> 16, position: word & 0xffff, elapsedMs: performance.timeOrigin + performance.now() - startedMs, startedMs };
  }

  /**
   * A lower bound of the CPU time (ms) the running evaluation `running` has used: the thread's run
   * time since its batch started, less the wall time the batch's earlier items took (they cannot
   * have used more CPU than that). Exact for a batch's first item. Undefined when the thread's run
   * time cannot be read, or the thread moved on to another item meanwhile.
   */
  cpuMs(running: { word: number; startedMs: number }): number | undefined {
    if (Atomics.load(this.#index, PROGRESS_TID) <= 0) return undefined;
    const batchCpuNs = this.#floats[PROGRESS_BATCH_CPU_NS]!;
    const batchStartedMs = this.#floats[PROGRESS_BATCH_STARTED_MS]!;
    let nowNs: number;
    try {
      this.#schedstat ??= { fd: openSync(`/proc/self/task/${Atomics.load(this.#index, PROGRESS_TID)}/schedstat`, 'r'), buffer: Buffer.alloc(64) };
      nowNs = readRunTimeNs(this.#schedstat.fd, this.#schedstat.buffer);
    } catch {
      return undefined;
    }
    if (Atomics.load(this.#index, PROGRESS_INDEX) !== running.word || !Number.isFinite(batchCpuNs)) return undefined;
    return Math.max(0, (nowNs - batchCpuNs) / 1e6 - Math.max(0, running.startedMs - batchStartedMs));
  }

  /** Whether the thread publishes its run time (known once it started; -1 = not readable). */
  cpuTimeKnown(): boolean | undefined {
    const tid = Atomics.load(this.#index, PROGRESS_TID);
    return tid === 0 ? undefined : tid > 0;
  }

  closeSchedstat(): void {
    if (this.#schedstat) closeSync(this.#schedstat.fd);
    this.#schedstat = undefined;
  }

  /** Every item in flight, in posting order, and none left in flight. */
  takeInFlight(): Queued[] {
    const all = [...this.inFlight.values()].flat();
    this.inFlight.clear();
    return all;
  }
}

/**
 * A process's evaluation threads: two serving (one with `spare: false`), a replacement started in
 * the background for each one terminated at the deadline or dead. Not for the CLI (`gatehouse
 * check` evaluates inline). Call close() when done (threads are unref'd, so a forgotten pool does
 * not hold the process open).
 */
export class EvalThreads {
  readonly timeoutMs: number;
  readonly #options: EvalThreadsOptions;
  readonly #url: URL;
  readonly #policies = new Map<number, ThreadPolicy>();
  readonly #queue: Queued[] = [];
  /** The serving threads, oldest first (an ended one stays here only while its replacement waits to start). */
  #threads: EvalThread[];
  #flushScheduled = false;
  #closed = false;
  #batches = 0;
  /** Threads replaced since start (timeouts and crashes). */
  replaced = 0;
  /** Evaluations refused because MAX_QUEUED were waiting. */
  queueFull = 0;
  /** Queued evaluations dropped because their caller's deadline passed before they ran. */
  expiredInQueue = 0;

  constructor(options: EvalThreadsOptions) {
    if (!(options.timeoutMs > 0)) throw new RangeError('EvalThreads needs timeoutMs > 0');
    this.timeoutMs = options.timeoutMs;
    this.#options = options;
    this.#url = options.workerUrl ?? defaultWorkerUrl();
    if (!existsSync('/proc/thread-self/schedstat')) {
      options.onWallClockDeadline?.('/proc/thread-self/schedstat is not available (not Linux, or /proc is not mounted): eval_timeout_ms counts wall-clock time');
    }
    this.#threads = options.spare === false ? [this.#spawn()] : [this.#spawn(), this.#spawn()];
  }

  /** A fresh id for a ThreadPolicy. */
  static nextPolicyId(): number {
    return ++policyIds;
  }

  /**
   * Loads a policy into every thread and resolves once one serving thread has instantiated it, so
   * a policy that cannot run there is refused at load time.
   * @throws Error with the thread's message when it cannot be instantiated.
   */
  async prepare(policy: ThreadPolicy): Promise<void> {
    this.#policies.set(policy.id, policy);
    for (const thread of this.#threads) if (!thread.ended) thread.load(policy);
    for (;;) {
      const thread = this.#threads.find((candidate) => !candidate.ended) ?? this.#threads[0]!;
      try {
        return await thread.loadedPromise(policy);
      } catch (error) {
        // The thread was replaced meanwhile (a timeout): its successor already loads the policy.
        if (!thread.ended || this.#closed) throw error;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }

  /** Forget a policy (it is no longer active): its instance is freed in every thread. */
  release(id: number): void {
    if (!this.#policies.delete(id)) return;
    for (const thread of this.#threads) {
      if (thread.loaded.delete(id) && !thread.ended) thread.post({ kind: 'unload', id });
    }
  }

  /**
   * Evaluate on an idle serving thread. Resolves with the thread's result (which may carry an
   * evaluation error as text); rejects with GatehouseError `eval_timeout` when the evaluation ran
   * past timeoutMs, `eval_queue_full` when MAX_QUEUED evaluations are waiting, `deadline_exceeded`
   * when `caller.expired()` turned true while it waited, or an Error when its thread died.
   */
  evaluate(policy: ThreadPolicy, item: EvalBatchItem, caller?: EvalCaller): Promise<EvalItemResult> {
    if (this.#closed) return Promise.reject(new EvalThreadsClosed());
    if (this.#queue.length >= MAX_QUEUED) {
      this.queueFull++;
      return Promise.reject(new GatehouseError('eval_queue_full', `${MAX_QUEUED} policy evaluations are already waiting for an evaluation thread; denied without evaluating`));
    }
    if (!this.#policies.has(policy.id)) this.#policies.set(policy.id, policy);
    return new Promise((resolve, reject) => {
      this.#queue.push({ policy, item, expired: caller?.expired?.bind(caller), resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(this.#scheduledFlush);
      }
    });
  }

  /** Evaluations waiting for a thread now. */
  get queued(): number {
    return this.#queue.length;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const threads = this.#threads;
    for (const thread of threads) {
      thread.ended = true;
      clearTimeout(thread.timer);
      thread.closeSchedstat();
      for (const queued of thread.takeInFlight()) queued.reject(new EvalThreadsClosed());
    }
    for (const queued of this.#queue.splice(0)) queued.reject(new EvalThreadsClosed());
    await Promise.all(threads.map((thread) => thread.worker.terminate()));
  }

  readonly #scheduledFlush = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };

  /**
   * The thread the next batch goes to: an idle warm thread; else a warm one whose current
   * evaluation is young (PIPELINE_MS); cold threads (replacements still loading) only when no warm
   * thread is alive. Undefined: every thread is busy, the batch waits.
   */
  #pick(): EvalThread | undefined {
    const live = this.#threads.filter((thread) => !thread.ended);
    const warm = live.filter((thread) => thread.warm);
    const pool = warm.length > 0 ? warm : live;
    const idle = pool.find((thread) => thread.inFlight.size === 0);
    if (idle) return idle;
    return pool.find((thread) => {
      if (thread.inFlight.size >= MAX_IN_FLIGHT) return false;
      const running = thread.running();
      return running === undefined || running.elapsedMs < PIPELINE_MS;
    });
  }

  #flush(): void {
    while (!this.#closed && this.#queue.length > 0) {
      this.#dropExpired();
      if (this.#queue.length === 0) return;
      const thread = this.#pick();
      if (!thread) {
        // Every thread is busy: look again when one may take a second batch.
        if (!this.#flushScheduled && this.#threads.some((candidate) => !candidate.ended && candidate.inFlight.size < MAX_IN_FLIGHT)) {
          this.#flushScheduled = true;
          setTimeout(this.#scheduledFlush, PIPELINE_MS).unref();
        }
        return;
      }
      const batch = this.#queue.splice(0, MAX_BATCH);
      for (const queued of batch) thread.load(queued.policy);
      const id = ++this.#batches;
      thread.inFlight.set(id, batch);
      thread.post({ kind: 'batch', batch: id, items: batch.map((queued) => queued.item) });
      if (!thread.timer) this.#arm(thread, this.timeoutMs);
    }
  }

  /** Drops (deadline_exceeded) queued evaluations whose caller has given up. */
  #dropExpired(): void {
    let kept = 0;
    for (const queued of this.#queue) {
      if (queued.expired?.()) {
        this.expiredInQueue++;
        queued.reject(new GatehouseError('deadline_exceeded', 'the caller\'s deadline passed while the evaluation waited for an evaluation thread'));
      } else {
        this.#queue[kept++] = queued;
      }
    }
    this.#queue.length = kept;
  }

  #arm(thread: EvalThread, ms: number): void {
    thread.timer = setTimeout(this.#deadline, Math.max(1, Math.ceil(ms)), thread);
  }

  readonly #deadline = (thread: EvalThread): void => {
    thread.timer = undefined;
    if (thread.ended || thread.inFlight.size === 0) return;
    const running = thread.running();
    // Not started yet (a new thread still instantiating policies): only evaluation time counts.
    if (!running) return this.#arm(thread, this.timeoutMs);
    if (running.elapsedMs < this.timeoutMs) return this.#arm(thread, this.timeoutMs - running.elapsedMs);
    // Past the deadline in wall time: count the thread's CPU time instead (a starved CPU is not the
    // policy's fault), up to the wall-clock backstop.
    const backstopMs = this.timeoutMs * WALL_BACKSTOP_FACTOR;
    const cpuMs = running.elapsedMs < backstopMs ? thread.cpuMs(running) : undefined;
    if (cpuMs === undefined && thread.cpuTimeKnown() && running.elapsedMs < backstopMs) {
      // It moved on to another item meanwhile (or the read failed once): look again soon.
      return this.#arm(thread, 1);
    }
    if (cpuMs !== undefined && cpuMs < this.timeoutMs) {
      return this.#arm(thread, Math.min(this.timeoutMs - cpuMs, backstopMs - running.elapsedMs));
    }
    const batchId = [...thread.inFlight.keys()].find((id) => (id & 0x7fff) === running.batchTag);
    const victim = batchId === undefined ? undefined : thread.inFlight.get(batchId)?.[running.position];
    const held = thread.takeInFlight();
    this.#retire(thread);
    victim?.reject(
      new GatehouseError('eval_timeout', `the policy evaluation ran past eval_timeout_ms (${this.timeoutMs} ms) and was stopped`),
    );
    // The others in flight lost their results with the thread: they are evaluated again.
    this.#queue.unshift(...held.filter((queued) => queued !== victim));
    const ran = cpuMs === undefined ? `${Math.round(running.elapsedMs)} ms wall-clock${running.elapsedMs >= backstopMs ? ` (the ${WALL_BACKSTOP_FACTOR}x eval_timeout_ms backstop)` : ''}` : `${Math.round(cpuMs)} ms of CPU time (${Math.round(running.elapsedMs)} ms wall-clock)`;
    this.#options.onReplaced?.('timeout', `evaluation ran ${ran}`);
    this.#flush();
  };

  readonly #onMessage = (thread: EvalThread, message: FromThread): void => {
    if (thread.ended) return;
    // A replacement that just became warm can take the queue.
    if (message.kind === 'loaded') {
      if (thread.warm && this.#queue.length > 0) this.#flush();
      return;
    }
    const batch = thread.inFlight.get(message.batch);
    if (!batch) return;
    thread.inFlight.delete(message.batch);
    if (thread.inFlight.size === 0) {
      clearTimeout(thread.timer);
      thread.timer = undefined;
    }
    for (const [position, queued] of batch.entries()) queued.resolve(message.results[position] ?? { error: 'no result from the evaluation thread' });
    this.#flush();
  };

  readonly #onExit = (thread: EvalThread, detail: string): void => {
    if (thread.ended) return;
    const batch = thread.takeInFlight();
    // A thread that dies before it ever answered (its code does not load) is not respawned in a loop.
    this.#retire(thread, thread.answered ? 0 : 1000);
    for (const queued of batch) queued.reject(new Error(`the evaluation thread ended (${detail})`));
    this.#options.onReplaced?.('exit', detail);
    this.#flush();
  };

  /** Ends `thread` and starts another in its place (after `respawnDelayMs`). */
  #retire(thread: EvalThread, respawnDelayMs = 0): void {
    thread.ended = true;
    clearTimeout(thread.timer);
    thread.closeSchedstat();
    thread.inFlight.clear();
    thread.failLoads('replaced');
    void thread.worker.terminate();
    if (this.#closed) return;
    this.replaced++;
    const replace = () => {
      if (this.#closed) return;
      const at = this.#threads.indexOf(thread);
      if (at >= 0) this.#threads[at] = this.#spawn();
      this.#flush();
    };
    if (respawnDelayMs > 0) setTimeout(replace, respawnDelayMs).unref();
    else replace();
  }

  #spawn(): EvalThread {
    const thread = new EvalThread(this.#url, this.#onMessage, this.#onExit);
    for (const policy of this.#policies.values()) thread.load(policy);
    thread.markStarted();
    return thread;
  }
}
