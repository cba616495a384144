/**
 * The primary's worker processes (node:cluster): one slot per configured worker, each filled by a
 * forked `gatehouse serve` that runs src/cluster/worker.ts. A worker that exits unexpectedly
 * (crash, process.exit, SIGKILL) is replaced, counted and logged while the others keep serving;
 * one that keeps dying soon after start is restarted with exponential backoff (crash loop), never
 * in a tight loop. The pool also runs the two-phase bundle switch and collects metrics.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config/schema.js';
import { GatehouseError, describeThrown, type ErrorCode } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { GatehouseMetrics } from '../observability/metrics.js';
import type { Bundle } from '../policy/bundle.js';
import type { ConnectionHandOff } from './connections.js';
import { Replies } from './replies.js';
import { isWorkerMessage, type MetricsJson, type PrimaryMessage, type WorkerMessage, type WorkerState } from './messages.js';

/**
 * Set in the environment of the workers this pool forks, so that `gatehouse serve` run as a worker
 * of some other cluster (a process manager's cluster mode) is not mistaken for one of ours.
 */
export const WORKER_ENV = 'GATEHOUSE_CLUSTER_WORKER_SLOT';

/** A worker that lived at least this long before exiting is restarted at once. */
const STABLE_AFTER_MS = 10_000;
/** Backoff for a worker that keeps dying early: 0.5 s, 1 s, 2 s ... up to 30 s. */
export function restartDelayMs(quickExits: number): number {
  return quickExits === 0 ? 0 : Math.min(30_000, 500 * 2 ** (quickExits - 1));
}
/** How long a worker may take to load and gate a bundle (the gate's own budget is 2 s). */
const PREPARE_TIMEOUT_MS = 30_000;
const METRICS_TIMEOUT_MS = 2_000;
/** The primary pings every started worker this often; the worker answers from its event loop. */
export const HEARTBEAT_INTERVAL_MS = 1_000;
/** A worker silent this long is not ready (/readyz) and left out of metrics scrapes. */
export const UNRESPONSIVE_AFTER_MS = 3_000;
/** A worker silent this long is killed and replaced (counted as a restart). */
export const HUNG_KILL_AFTER_MS = 10_000;

interface Slot {
  index: number;
  worker: Worker | undefined;
  startedAt: number;
  started: boolean;
  state: WorkerState | undefined;
  quickExits: number;
  restarts: number;
  lastError: string | undefined;
  lastErrorCode?: string;
  timer: NodeJS.Timeout | undefined;
  stopped: boolean;
  /** When the current worker last answered a ping (or started). */
  lastPongAt: number;
  /** The current worker has not answered for UNRESPONSIVE_AFTER_MS. */
  unresponsive: boolean;
  /** The current worker's last metrics reply: stands in for it when it misses a scrape. */
  lastMetrics: MetricsJson | undefined;
  /**
   * Pings sent to the current worker and not answered yet, oldest first, each with the hand-off's
   * mark() when it was sent (ConnectionHandOff.answered).
   */
  pings: { id: number; mark: number }[];
}

export interface WorkerPoolOptions {
  count: number;
  /** The configuration the primary loaded: every worker (and every replacement) serves with it. */
  config: Readonly<Config>;
  logger: Logger;
  metrics: GatehouseMetrics;
  tlsTicketKeys: Buffer;
  /** Whole decision-log lines from a worker. */
  onLogLines(text: string, count: number): void;
  /** A worker's readiness changed. */
  onStateChange(): void;
  /** The primary's listener: told which workers take and close connections, and which exit. */
  connections: ConnectionHandOff;
}

export interface WorkerSummary {
  worker: number;
  pid: number | null;
  /** Serving: started and listening (a worker still starting gets no connections). */
  started: boolean;
  ready: boolean;
  revision: string | null;
  restarts: number;
  reason?: string;
}

export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #slots: Slot[];
  #stopping = false;
  readonly #prepares = new Replies<PrepareAnswer>();
  readonly #metricsReplies = new Replies<MetricsJson | undefined>();
  #boot: { resolve: () => void; reject: (error: Error) => void; failedSlots: Set<number> } | undefined;
  /** The bundle every worker serves: a (re)started worker begins with it. */
  #committed: Bundle | undefined;
  readonly #exitWaiters: (() => void)[] = [];
  /**
   * Counters and histograms of workers that exited, as of their last metrics reply, summed: added
   * to every scrape so that summed counters never go down when a worker is replaced.
   */
  #retired: MetricsJson = [];
  #heartbeat: NodeJS.Timeout | undefined;
  #pingId = 0;

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
    this.#slots = Array.from({ length: options.count }, (_, index) => ({
      index: index + 1,
      worker: undefined,
      startedAt: 0,
      started: false,
      state: undefined,
      quickExits: 0,
      restarts: 0,
      lastError: undefined,
      timer: undefined,
      stopped: false,
      lastPongAt: 0,
      unresponsive: false,
      lastMetrics: undefined,
      pings: [],
    }));
    // Buffers (a bundle's wasm) cross the channel as Buffers, not as JSON arrays of numbers.
    cluster.setupPrimary({ serialization: 'advanced' });
  }

  /**
   * Forks every worker; resolves once each has started or (after one started) failed at least
   * once. Rejects with the workers' error when every one of them fails to start.
   */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#boot = { resolve, reject, failedSlots: new Set() };
      for (const slot of this.#slots) this.#fork(slot);
      this.#heartbeat = setInterval(() => this.#checkHeartbeats(), HEARTBEAT_INTERVAL_MS);
      this.#heartbeat.unref();
    });
  }

  /**
   * Pings every started worker; one silent for UNRESPONSIVE_AFTER_MS (stopped, or its event loop
   * stuck) is marked not ready (it still gets its share of connections, whose Checks hang), one
   * silent for HUNG_KILL_AFTER_MS is killed with SIGKILL, and the exit handler replaces it.
   */
  #checkHeartbeats(): void {
    if (this.#stopping) return;
    const now = Date.now();
    const id = ++this.#pingId;
    for (const slot of this.#slots) {
      const worker = slot.worker;
      if (!worker || !slot.started) continue;
      const silentMs = now - slot.lastPongAt;
      if (silentMs >= HUNG_KILL_AFTER_MS) {
        this.#options.logger.error(
          { worker: slot.index, pid: worker.process.pid, silent_ms: silentMs },
          `worker did not answer heartbeats for ${HUNG_KILL_AFTER_MS / 1000} s; killing it (SIGKILL) so that a replacement takes its connections`,
        );
        slot.lastError = `hung: no heartbeat answer for ${Math.round(silentMs / 1000)} s; killed`;
        worker.process.kill('SIGKILL');
        continue;
      }
      if (silentMs >= UNRESPONSIVE_AFTER_MS && !slot.unresponsive) {
        slot.unresponsive = true;
        this.#options.logger.error(
          { worker: slot.index, pid: worker.process.pid, silent_ms: silentMs, kill_after_ms: HUNG_KILL_AFTER_MS },
          'worker does not answer heartbeats; it is not ready and is killed and replaced if it stays silent',
        );
        this.#options.onStateChange();
      }
      // At most the pings of HUNG_KILL_AFTER_MS: a silent worker is killed after that.
      if (slot.pings.length >= HUNG_KILL_AFTER_MS / HEARTBEAT_INTERVAL_MS + 1) slot.pings.shift();
      slot.pings.push({ id, mark: this.#options.connections.mark() });
      this.#send(slot, { gatehouse: 'ping', id });
    }
  }

  /** The workers that may take a connection now: started, answering heartbeats, connected. */
  connectionTargets(): Worker[] {
    return this.#slots.flatMap((slot) => (slot.worker && slot.started && !slot.unresponsive && slot.worker.isConnected() ? [slot.worker] : []));
  }

  /** Workers running now. */
  running(): number {
    return this.#slots.filter((slot) => slot.worker !== undefined && slot.started).length;
  }

  summary(): WorkerSummary[] {
    return this.#slots.map((slot) => ({
      worker: slot.index,
      pid: slot.worker?.process.pid ?? null,
      started: slot.started,
      ready: slot.started && !slot.unresponsive && slot.state?.ready === true,
      revision: slot.state?.revision ?? null,
      restarts: slot.restarts,
      ...(slot.started
        ? slot.unresponsive
          ? { reason: `not answering heartbeats for ${Math.round((Date.now() - slot.lastPongAt) / 1000)} s (stopped or its event loop is blocked); killed and replaced after ${HUNG_KILL_AFTER_MS / 1000} s` }
          : slot.state?.reason
            ? { reason: slot.state.reason }
            : {}
        : { reason: slot.worker ? 'starting' : 'restarting after an exit' }),
    }));
  }

  /**
   * Two-phase switch: every started worker loads `bundle` and runs its activation gate; only when
   * all say ok does each activate it. Throws GatehouseError naming the refusing worker otherwise
   * (every worker then keeps its active bundle). A worker that started during the switch (it began
   * with the previous bundle) is sent the new one once it is committed; with no worker running yet
   * the bundle is simply what workers start with.
   */
  async switchTo(bundle: Bundle): Promise<void> {
    const targets = this.#slots.filter((slot) => slot.worker && slot.started);
    // The worker processes asked to prepare: a slot's worker may be replaced during the switch, and
    // its replacement (same slot, started with the previous bundle) never prepared this round.
    const preparers = new Map(targets.map((slot) => [slot.index, slot.worker!]));
    let round = 0;
    const answers = await this.#prepares.ask(
      targets.map((slot) => slot.index),
      (index, id) => {
        round = id;
        this.#send(this.#slot(index), { gatehouse: 'bundle-prepare', round: id, bundle });
      },
      PREPARE_TIMEOUT_MS,
      { ok: false, code: 'bundle_invalid', message: `did not load it within ${PREPARE_TIMEOUT_MS / 1000} s` },
      'gone',
    );
    const refusals = answers.flatMap((answer, i) => (answer !== 'gone' && !answer.ok ? [{ slot: targets[i]!, answer }] : []));
    if (refusals.length > 0) {
      for (const slot of targets) this.#send(slot, { gatehouse: 'bundle-abort', round });
      const { slot, answer } = refusals[0]!;
      const others = refusals.length > 1 ? ` (and ${refusals.length - 1} other worker${refusals.length > 2 ? 's' : ''})` : '';
      throw new GatehouseError(answer.code as ErrorCode, `refused by worker ${slot.index}${others}: ${answer.message}`);
    }
    this.#committed = bundle;
    for (const slot of this.#slots) {
      if (slot.worker !== undefined && slot.worker === preparers.get(slot.index)) this.#send(slot, { gatehouse: 'bundle-commit', round });
      // A worker that did not prepare this round (started or replaced meanwhile) loads it now; one
      // still starting catches up when it says started.
      else if (slot.started && slot.state?.digest !== bundle.digest) this.#send(slot, { gatehouse: 'bundle-activate', bundle });
    }
  }

  /**
   * The workers' metrics as JSON, for AggregatorRegistry.aggregate: each running worker's reply;
   * for a worker that does not answer within 2 s (or is unresponsive: not asked), the counters and
   * histograms of its last reply (its gauges are left out); and the summed counters and histograms
   * of every worker that exited. So a summed counter never goes down when a worker dies or stalls.
   */
  async collectMetrics(): Promise<MetricsJson[]> {
    // A worker still starting answers nothing until it has its start message (and has counted nothing).
    const asked = this.#slots.filter((slot) => slot.started && slot.worker?.isConnected() && !slot.unresponsive);
    const askedWorkers = asked.map((slot) => slot.worker);
    const replies = await this.#metricsReplies.ask(
      asked.map((slot) => slot.index),
      (index, id) => this.#send(this.#slot(index), { gatehouse: 'metrics-request', id }),
      METRICS_TIMEOUT_MS,
      undefined,
      undefined,
    );
    // A worker that answered and exited before the others answered is already in #retired.
    const fresh = asked.flatMap((slot, i) => (replies[i] !== undefined && slot.worker === askedWorkers[i] ? [{ slot, reply: replies[i]! }] : []));
    const answered = new Set(fresh.map(({ slot }) => slot));
    const stale = this.#slots.filter((slot) => slot.worker && !answered.has(slot) && slot.lastMetrics).map((slot) => cumulativeOnly(slot.lastMetrics!));
    return [...fresh.map(({ reply }) => reply), ...stale, this.#retired];
  }

  /** Adds a departed worker's last counters and histograms to #retired (one summed set, not one per exit). */
  #retire(metrics: MetricsJson | undefined): void {
    if (metrics) this.#retired = addCumulative(this.#retired, metrics);
  }

  #slot(index: number): Slot {
    return this.#slots[index - 1]!;
  }

  /** SIGTERM: every worker drains and stops; resolves when all have exited. */
  drain(): Promise<void> {
    this.#stopping = true;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    for (const slot of this.#slots) {
      if (slot.timer) clearTimeout(slot.timer);
      this.#send(slot, { gatehouse: 'drain' });
    }
    return this.#allExited();
  }

  /** A second signal: end the workers' drain now. */
  endDrain(): void {
    for (const slot of this.#slots) this.#send(slot, { gatehouse: 'end-drain' });
  }

  /** Kill every worker (start-up failed, or shutdown ran out of time). */
  kill(): Promise<void> {
    this.#stopping = true;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    for (const slot of this.#slots) {
      if (slot.timer) clearTimeout(slot.timer);
      slot.worker?.process.kill('SIGKILL');
    }
    return this.#allExited();
  }

  #allExited(): Promise<void> {
    for (const slot of this.#slots) if (slot.worker === undefined) slot.stopped = true;
    if (this.#slots.every((slot) => slot.worker === undefined)) return Promise.resolve();
    return new Promise((resolve) => this.#exitWaiters.push(resolve));
  }

  #send(slot: Slot, message: PrimaryMessage): void {
    const worker = slot.worker;
    if (!worker?.isConnected()) return;
    try {
      worker.send(message);
    } catch {
      // The worker is exiting; its 'exit' handler takes it from here.
    }
  }

  #fork(slot: Slot): void {
    slot.timer = undefined;
    if (this.#stopping) return;
    let worker: Worker;
    try {
      worker = cluster.fork({ [WORKER_ENV]: String(slot.index) });
    } catch (error) {
      // spawn() throws for the errors it does not report as 'error' (below); the slot tries again.
      slot.startedAt = Date.now();
      slot.started = false;
      slot.lastError = `could not start a worker process: ${describeThrown(error)}`;
      slot.lastErrorCode = undefined;
      this.#replace(slot, false, undefined, null, null);
      return;
    }
    slot.worker = worker;
    slot.startedAt = Date.now();
    slot.started = false;
    slot.state = undefined;
    slot.lastError = undefined;
    slot.unresponsive = false;
    slot.lastMetrics = undefined;
    slot.pings = [];
    worker.on('message', (message: unknown) => {
      if (!isWorkerMessage(message)) return;
      // Even from a worker that has exited: its last messages may be read after its 'exit'.
      if (message.gatehouse === 'connection-taken') this.#options.connections.taken(worker, message.id);
      else if (message.gatehouse === 'connection-closed') this.#options.connections.closed(worker, message.id);
      else this.#onMessage(slot, worker, message as WorkerMessage);
    });
    worker.on('exit', (code, signal) => this.#onExit(slot, worker, code, signal));
    // Connections handed to it and not taken go to another worker at 'close' (exited, and its IPC
    // channel read to the end), not at 'exit': 'exit' can come before its last messages are read,
    // and a `connection-taken` among them means the worker may have read the connection's first
    // bytes (its TLS handshake); handed on, the next worker would get the middle of a handshake.
    // Not 'disconnect' either: Node never emits it for a channel that dies with a handle unacknowledged.
    worker.process.once('close', () => this.#options.connections.workerExited(worker));
    worker.on('error', (error: Error) => {
      // No process (spawn failed: EMFILE, EAGAIN, ENOMEM): no 'exit' follows, so the slot would
      // wait for this worker forever (and a drain with it). Otherwise a send to a worker that just
      // died: 'exit' follows.
      if (worker.process.pid !== undefined || slot.worker !== worker) return;
      slot.lastError = `could not start a worker process: ${describeThrown(error)}`;
      slot.lastErrorCode = undefined;
      this.#onExit(slot, worker, null, null);
    });
  }

  #onMessage(slot: Slot, worker: Worker, message: WorkerMessage): void {
    // What the worker did before it exited counts even when it is read after node reported the
    // exit (the channel's last messages can come after 'exit'): its decision lines are written
    // (and a connection it took is not handed on: see #fork).
    switch (message.gatehouse) {
      case 'log-lines':
        this.#options.onLogLines(message.text, message.count);
        return;
      case 'connection-taken':
      case 'connection-closed':
        return; // handled in #fork's listener
      default:
    }
    if (slot.worker !== worker) return;
    switch (message.gatehouse) {
      case 'hello':
        this.#send(slot, { gatehouse: 'start', slot: slot.index, config: this.#options.config as Config, bundle: this.#committed, tlsTicketKeys: this.#options.tlsTicketKeys });
        return;
      case 'started': {
        slot.started = true;
        slot.lastPongAt = Date.now();
        slot.state = message.state;
        // A switch committed while this worker started: it catches up.
        const committed = this.#committed;
        if (committed && committed.digest !== message.state.digest) this.#send(slot, { gatehouse: 'bundle-activate', bundle: committed });
        this.#options.onStateChange();
        this.#options.connections.flush();
        this.#checkBoot();
        return;
      }
      case 'failed':
        slot.lastError = message.message;
        slot.lastErrorCode = message.code;
        return;
      case 'state':
        slot.state = message.state;
        this.#options.onStateChange();
        return;
      case 'bundle-prepared':
        this.#prepares.answer(slot.index, message.round, message.ok ? { ok: true } : { ok: false, code: message.code, message: message.message });
        return;
      case 'metrics':
        // Kept even when it comes after the scrape gave up: it stands in for the next missed one.
        slot.lastMetrics = message.metrics;
        this.#metricsReplies.answer(slot.index, message.id, message.metrics);
        return;
      case 'pong': {
        slot.lastPongAt = Date.now();
        // Every connection handed to it before this ping and not taken never reached it.
        const answered = slot.pings.findIndex((ping) => ping.id === message.id);
        if (answered >= 0) this.#options.connections.answered(worker, slot.pings.splice(0, answered + 1).at(-1)!.mark);
        if (slot.unresponsive) {
          slot.unresponsive = false;
          this.#options.logger.warn({ worker: slot.index, pid: worker.process.pid }, 'worker answers heartbeats again');
          this.#options.onStateChange();
          this.#options.connections.flush();
        }
        return;
      }
      case 'stopped':
        return;
    }
  }

  #onExit(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    const wasStarted = slot.started;
    slot.started = false;
    slot.state = undefined;
    slot.unresponsive = false;
    this.#retire(slot.lastMetrics);
    slot.lastMetrics = undefined;
    this.#prepares.exited(slot.index);
    this.#metricsReplies.exited(slot.index);
    this.#options.onStateChange();
    if (this.#stopping) {
      // Every decision line a worker sent precedes the end of its channel; 'exit' may come first.
      // 'close' (exit and channel EOF, in either order; emitted after 'exit'), not 'disconnect',
      // which never comes for a channel that dies with a handed connection unacknowledged.
      const done = () => {
        slot.stopped = true;
        if (this.#slots.every((s) => s.worker === undefined && s.stopped)) for (const resolve of this.#exitWaiters.splice(0)) resolve();
      };
      worker.process.once('close', done);
      return;
    }
    this.#replace(slot, wasStarted, worker.process.pid, code, signal);
  }

  /** Counts the exit of the slot's worker (or a fork that failed) and starts a replacement, with backoff. */
  #replace(slot: Slot, wasStarted: boolean, pid: number | undefined, code: number | null, signal: string | null): void {
    const boot = this.#boot;
    if (boot && !wasStarted) {
      boot.failedSlots.add(slot.index);
      if (boot.failedSlots.size === this.#slots.length && this.#slots.every((s) => !s.started)) {
        this.#boot = undefined;
        const message = slot.lastError ?? `worker ${slot.index} exited during start-up (${signal ?? `exit code ${code}`})`;
        boot.reject(slot.lastErrorCode ? new GatehouseError(slot.lastErrorCode as ErrorCode, message) : new Error(message));
        return;
      }
    }
    const lived = Date.now() - slot.startedAt;
    slot.quickExits = wasStarted && lived >= STABLE_AFTER_MS ? 0 : slot.quickExits + 1;
    slot.restarts++;
    this.#options.metrics.recordWorkerRestart();
    const delay = restartDelayMs(slot.quickExits);
    this.#options.logger.error(
      { worker: slot.index, pid, exit_code: code, signal, error: slot.lastError, restart_in_ms: delay, restarts: slot.restarts },
      'worker exited unexpectedly; a replacement is starting while the other workers keep serving',
    );
    slot.timer = setTimeout(() => this.#fork(slot), delay);
    this.#checkBoot();
  }

  #checkBoot(): void {
    const boot = this.#boot;
    if (!boot) return;
    const started = this.#slots.filter((slot) => slot.started).length;
    if (started > 0 && this.#slots.every((slot) => slot.started || boot.failedSlots.has(slot.index))) {
      this.#boot = undefined;
      boot.resolve();
    }
  }
}

/** Counters and histograms only: a departed or silent worker's gauges describe nothing now. */
function cumulativeOnly(metrics: MetricsJson): MetricsJson {
  return metrics.filter((metric) => String(metric.type) === 'counter' || String(metric.type) === 'histogram');
}

/**
 * `total` plus the counters and histograms of `add`, summed value by value (same metric, sample
 * name and labels), as AggregatorRegistry.aggregate sums them; a new array, the inputs unchanged.
 */
export function addCumulative(total: MetricsJson, add: MetricsJson): MetricsJson {
  const result = total.map((metric) => ({ ...metric, values: metric.values.map((value) => ({ ...value })) }));
  const key = (value: { metricName?: string; labels: object }) =>
    `${value.metricName ?? ''}${JSON.stringify(Object.entries(value.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
  for (const metric of cumulativeOnly(add)) {
    const into = result.find((m) => m.name === metric.name);
    if (!into) {
      result.push({ ...metric, values: metric.values.map((value) => ({ ...value })) });
      continue;
    }
    const index = new Map(into.values.map((value) => [key(value), value]));
    for (const value of metric.values) {
      const existing = index.get(key(value));
      if (existing) existing.value += value.value;
      else into.values.push({ ...value });
    }
  }
  return result;
}

type PrepareAnswer = { ok: true } | { ok: false; code: string; message: string } | 'gone';
