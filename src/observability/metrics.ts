/**
 * Prometheus metrics, on a Registry owned by the app (never prom-client's global one). Label sets
 * are closed: outcome, reason/code from the error catalogue, reload result. A path or a principal
 * is never a label.
 *
 * With workers > 1 each worker has its own registry and the primary serves their sum
 * (src/cluster/cluster-metrics.ts, prom-client's AggregatorRegistry). Where a sum would be wrong
 * the metric names its `aggregator`: state every worker shares (policy revision, readiness, reload
 * outcomes, which the primary records once) is the max or min across processes, not the sum.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { HYGIENE_RULE_IDS } from '../authz/hygiene/index.js';
import type { Outcome, ReasonLabel } from '../authz/outcome.js';
import type { CacheStats } from '../cache/decision-cache.js';

// From 25 µs to 1 s: in-process decisions take tens of µs; Envoy's default timeout is 200 ms.
export const DURATION_BUCKETS = [
  0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

export class GatehouseMetrics {
  readonly registry: Registry;
  readonly #checkDuration: Histogram<'outcome'>;
  readonly #evalDuration: Histogram;
  readonly #decisions: Counter<'outcome' | 'reason'>;
  readonly #errors: Counter<'code'>;
  readonly #policyInfo: Gauge<'revision'>;
  readonly #reloads: Counter<'result'>;
  readonly #lastLoad: Gauge;
  readonly #ready: Gauge;
  readonly #logLines: Counter<'result'>;
  #tlsReloads: Counter<'result'> | undefined;
  readonly #lastReloadSuccess: Gauge;
  readonly #lastReloadFailure: Gauge;
  readonly #cacheLookups: Counter<'result'>;
  readonly #cacheHit: Counter.Internal;
  readonly #cacheMiss: Counter.Internal;
  readonly #dryRunOverrides: Counter;
  readonly #shadow: Counter<'result'>;
  readonly #connectionsRefused: Counter;
  readonly #hygieneRefusals: Counter<'rule'>;
  #tlsNotAfterMs: number | undefined;
  readonly #observeAllow: Histogram.Internal<'outcome'>;
  readonly #observeDeny: Histogram.Internal<'outcome'>;

  readonly #relayedDecisionLog: boolean;

  /**
   * `relayedDecisionLog`: this is a cluster worker whose decision-log lines the primary writes and
   * counts (written, dropped at its sink); here only lines dropped before reaching it and
   * sampled_out ones are counted, so the sum over processes counts every line once.
   */
  constructor(options: { processMetrics: boolean; relayedDecisionLog?: boolean } = { processMetrics: true }) {
    const registry = new Registry();
    this.registry = registry;
    this.#relayedDecisionLog = options.relayedDecisionLog ?? false;
    if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'gatehouse_' });
    this.#checkDuration = new Histogram({
      name: 'gatehouse_check_duration_seconds',
      help: 'Time to decide one Check, from receiving the request bytes to the decision (excludes gRPC transport).',
      labelNames: ['outcome'],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    });
    this.#evalDuration = new Histogram({
      name: 'gatehouse_policy_eval_duration_seconds',
      help: 'Time spent serialising the input and evaluating the Wasm policy.',
      buckets: DURATION_BUCKETS,
      registers: [registry],
    });
    this.#decisions = new Counter({
      name: 'gatehouse_decisions_total',
      help: 'Checks answered, by outcome (allow/deny) and reason (policy_allowed, policy_denied, or an error code).',
      labelNames: ['outcome', 'reason'],
      registers: [registry],
    });
    this.#errors = new Counter({
      name: 'gatehouse_check_errors_total',
      help: 'Checks denied because of an error, by error code.',
      labelNames: ['code'],
      registers: [registry],
    });
    this.#policyInfo = new Gauge({
      name: 'gatehouse_policy_info',
      help: 'The active policy revision (value 1; the revision is a label).',
      labelNames: ['revision'],
      registers: [registry],
      aggregator: 'max',
    });
    this.#reloads = new Counter({
      name: 'gatehouse_policy_reloads_total',
      help: 'Bundle load attempts by result: loaded, unchanged, failed.',
      labelNames: ['result'],
      registers: [registry],
      aggregator: 'max',
    });
    this.#lastLoad = new Gauge({
      name: 'gatehouse_policy_last_load_timestamp_seconds',
      help: 'Unix time of the last successful bundle load.',
      registers: [registry],
      aggregator: 'max',
    });
    this.#ready = new Gauge({
      name: 'gatehouse_ready',
      help: '1 when a policy is loaded and Checks are being decided by it, else 0 (with workers: 1 only when every worker is).',
      registers: [registry],
      aggregator: 'min',
    });
    this.#logLines = new Counter({
      name: 'gatehouse_decision_log_lines_total',
      help: 'Decision-log lines by result: written, dropped because the sink could not keep up, or sampled_out (allows not logged by decision_log_allow_sample_percent).',
      labelNames: ['result'],
      registers: [registry],
    });
    this.#cacheLookups = new Counter({
      name: 'gatehouse_decision_cache_lookups_total',
      help: 'Decision-cache lookups by result: hit (answered without evaluating) or miss (evaluated, then stored).',
      labelNames: ['result'],
      registers: [registry],
    });
    this.#lastReloadSuccess = new Gauge({
      name: 'gatehouse_policy_last_reload_success',
      help: '1 when the last bundle load attempt succeeded (or found the bundle unchanged), 0 when it failed.',
      registers: [registry],
      aggregator: 'min',
    });
    this.#lastReloadFailure = new Gauge({
      name: 'gatehouse_policy_last_reload_failure_timestamp_seconds',
      help: 'Unix time of the last failed bundle load attempt (0 if none).',
      registers: [registry],
      aggregator: 'max',
    });
    // Series exist from the start at 0, so rate() and increase() see their first increment.
    this.#cacheHit = this.#cacheLookups.labels('hit');
    this.#cacheMiss = this.#cacheLookups.labels('miss');
    this.#cacheHit.inc(0);
    this.#cacheMiss.inc(0);
    this.#dryRunOverrides = new Counter({
      name: 'gatehouse_dry_run_overrides_total',
      help: 'Checks the policy denied but dry_run answered with allow.',
      registers: [registry],
    });
    this.#shadow = new Counter({
      name: 'gatehouse_shadow_evaluations_total',
      help: 'Checks also decided by the candidate bundle, by result: agree, allow_to_deny (active allowed, candidate denies), deny_to_allow.',
      labelNames: ['result'],
      registers: [registry],
    });
    for (const result of ['agree', 'allow_to_deny', 'deny_to_allow']) this.#shadow.labels(result).inc(0);
    this.#connectionsRefused = new Counter({
      name: 'gatehouse_connections_refused_total',
      help: 'Client connections closed at once because max_connections were open. Envoy fails the Checks on such a connection (403, or allow with failure_mode_allow: true) unless its retry_policy retries them.',
      registers: [registry],
    });
    this.#hygieneRefusals = new Counter({
      name: 'gatehouse_request_hygiene_refusals_total',
      help: 'Checks denied by a request-hygiene rule or limit, by rule (docs/input.md#request-hygiene).',
      labelNames: ['rule'],
      registers: [registry],
    });
    for (const rule of HYGIENE_RULE_IDS) this.#hygieneRefusals.labels(rule).inc(0);
    for (const result of ['loaded', 'unchanged', 'failed']) this.#reloads.labels(result).inc(0);
    for (const result of ['written', 'dropped', 'sampled_out']) this.#logLines.labels(result).inc(0);
    this.#observeAllow = this.#checkDuration.labels('allow');
    this.#observeDeny = this.#checkDuration.labels('deny');
    this.#checkDuration.zero({ outcome: 'allow' });
    this.#checkDuration.zero({ outcome: 'deny' });
    this.#ready.set(0);
  }

  recordCheck(outcome: Outcome): void {
    (outcome.allowed ? this.#observeAllow : this.#observeDeny).observe(outcome.timings.totalNs / 1e9);
    if (outcome.decision || outcome.error?.code === 'eval_error' || outcome.error?.code === 'decision_invalid' || outcome.error?.code === 'decision_undefined') {
      this.#evalDuration.observe(outcome.timings.evalNs / 1e9);
    }
    this.#decisionChild(outcome.allowed ? 'allow' : 'deny', outcome.reasonLabel).inc();
    if (outcome.cache === 'hit') this.#cacheHit.inc();
    else if (outcome.cache === 'miss') this.#cacheMiss.inc();
    if (outcome.error) this.#errors.labels(outcome.error.code).inc();
    if (outcome.hygiene) this.#hygieneRefusals.labels(outcome.hygiene.rule).inc();
  }

  recordReload(result: 'loaded' | 'unchanged' | 'failed', revision?: string): void {
    this.#reloads.labels(result).inc();
    this.#lastReloadSuccess.set(result === 'failed' ? 0 : 1);
    if (result === 'failed') this.#lastReloadFailure.set(Date.now() / 1000);
    if (result === 'loaded' && revision !== undefined) {
      this.#policyInfo.reset();
      this.#policyInfo.labels(revision).set(1);
      this.#lastLoad.set(Date.now() / 1000);
    }
  }

  /** Registers the TLS metrics; without TLS they are absent (an expiry of 0 would page someone). */
  enableTls(): void {
    if (this.#tlsReloads) return;
    this.#tlsReloads = new Counter({
      name: 'gatehouse_tls_reloads_total',
      help: 'Reloads of the serving certificate, key and client CA files, by result: loaded or failed (the previous set keeps serving). With workers, each worker reloads the files itself; the largest count is shown.',
      labelNames: ['result'],
      registers: [this.registry],
      aggregator: 'max',
    });
    for (const result of ['loaded', 'failed']) this.#tlsReloads.labels(result).inc(0);
    const metrics = this;
    new Gauge({
      name: 'gatehouse_tls_certificate_expiry_seconds',
      help: 'Seconds until the serving certificate of the gRPC listener expires (present only with TLS).',
      registers: [this.registry],
      aggregator: 'min',
      collect() {
        if (metrics.#tlsNotAfterMs !== undefined) this.set((metrics.#tlsNotAfterMs - Date.now()) / 1000);
      },
    });
  }

  recordTlsReload(result: 'loaded' | 'failed', notAfter?: Date): void {
    this.enableTls();
    this.#tlsReloads!.labels(result).inc();
    if (notAfter) this.#tlsNotAfterMs = notAfter.getTime();
  }

  /** Cache gauges and evictions are read from the cache when Prometheus scrapes. */
  observeCache(stats: () => CacheStats): void {
    let reportedEvictions = 0;
    new Gauge({ name: 'gatehouse_decision_cache_entries', help: 'Decisions held in the decision cache.', registers: [this.registry], collect() { this.set(stats().entries); } });
    new Gauge({ name: 'gatehouse_decision_cache_bytes', help: 'Estimated memory held by the decision cache (keys and results).', registers: [this.registry], collect() { this.set(stats().bytes); } });
    new Counter({
      name: 'gatehouse_decision_cache_evictions_total',
      help: 'Decisions evicted from the cache to stay within its entry and byte bounds.',
      registers: [this.registry],
      collect() {
        const evictions = stats().evictions;
        this.inc(evictions - reportedEvictions);
        reportedEvictions = evictions;
      },
    });
  }

  /** `count` connections were refused (max_connections). */
  recordConnectionsRefused(count: number): void {
    this.#connectionsRefused.inc(count);
  }

  recordDryRunOverride(): void {
    this.#dryRunOverrides.inc();
  }

  recordShadow(result: 'agree' | 'allow_to_deny' | 'deny_to_allow'): void {
    this.#shadow.labels(result).inc();
  }

  /** Label children are looked up by a string key each time; keep them (the label set is closed). */
  readonly #decisionChildren = new Map<string, Counter.Internal>();

  #decisionChild(outcome: 'allow' | 'deny', reason: ReasonLabel): Counter.Internal {
    const key = `${outcome}:${reason}`;
    let child = this.#decisionChildren.get(key);
    if (!child) this.#decisionChildren.set(key, (child = this.#decisions.labels(outcome, reason)));
    return child;
  }

  setReady(ready: boolean): void {
    this.#ready.set(ready ? 1 : 0);
  }

  recordLogLine(result: 'written' | 'dropped' | 'sampled_out', count = 1): void {
    if (this.#relayedDecisionLog && result === 'written') return;
    this.#logLines.labels(result).inc(count);
  }

  /**
   * The cluster primary's own metrics (workers > 1): gatehouse_workers, read from `running` at each
   * scrape, and gatehouse_worker_restarts_total (recordWorkerRestart).
   */
  enableWorkers(running: () => number): void {
    if (this.#workerRestarts) return;
    new Gauge({
      name: 'gatehouse_workers',
      help: 'Worker processes serving Checks now (workers > 1 only).',
      registers: [this.registry],
      collect() {
        this.set(running());
      },
    });
    this.#workerRestarts = new Counter({
      name: 'gatehouse_worker_restarts_total',
      help: 'Worker processes that exited unexpectedly (crash, exit, signal) and were replaced (workers > 1 only).',
      registers: [this.registry],
    });
    this.#workerRestarts.inc(0);
  }

  #workerRestarts: Counter | undefined;

  recordWorkerRestart(): void {
    this.#workerRestarts?.inc();
  }
}
