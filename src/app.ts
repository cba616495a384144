/**
 * The composition root: the only module that wires config, policy store, gRPC and admin servers,
 * logs and metrics together. Everything stateful is created here, per app, so a test can build a
 * fresh app and leak nothing into the next.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { describeThrown } from './errors.js';
import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import type { Outcome } from './authz/outcome.js';
import { dryRunLifts } from './authz/response.js';
import { DecisionCache } from './cache/decision-cache.js';
import { cacheSettings, requestHygiene } from './config/load.js';
import { trustBundlePair, type Config } from './config/schema.js';
import { checkService, type CheckServiceDeps } from './grpc/check-service.js';
import { createHttpAuthzServer } from './http-authz/server.js';
import { CertificateMemo } from './identity/peer-certificate.js';
import { authzProtos } from './grpc/protos.js';
import { GrpcServer } from './grpc/server.js';
import { createAdminServer } from './observability/admin-server.js';
import { DecisionLog, type LineSink } from './observability/decision-log.js';
import { loggingSinkHooks, openConfiguredDecisionLogSink } from './observability/log-sink.js';
import type { Logger } from './observability/logger.js';
import { loadTracing } from './observability/tracing.js';
import { GatehouseMetrics } from './observability/metrics.js';
import { LiveSummary } from './observability/live/live-summary.js';
import { createLiveRoutes, livePolicyStatus } from './observability/live/live-routes.js';
import { createUpdatingStore, type BundleFeed } from './policy/policy-source.js';
import type { LoadResult, PolicyStore } from './policy/policy-store.js';
import { MAX_SHADOW_PENDING, ShadowEvaluator, type ShadowNotReady, type ShadowResult } from './policy/shadow.js';
import { DEFAULT_GATE_TIMING, RecentInputs, type GateSummary } from './policy/activation-gate.js';
import type { WasmPolicy } from './policy/evaluator.js';
import { EvalThreads, WALL_BACKSTOP_FACTOR } from './policy/eval-threads.js';
import { RecentRunaways } from './authz/recent-runaways.js';
import { bundleVerifier } from './policy/bundle-verifier.js';
import { ReloadingCertificateProvider, type TlsReloadResult } from './tls/certificate-provider.js';
import { VERSION } from './version.js';
import { acceptErrorReporter, listenOn } from './listen.js';

/**
 * What the activation gate's recent inputs may hold, whatever activation_gate_inputs says: counted in
 * characters (string length, JSON plus key), not bytes.
 */
const ACTIVATION_GATE_MAX_BYTES = 16 * 1024 * 1024;

export interface AppDeps {
  logger: Logger;
  /** Defaults to the sink named by config.decision_log. */
  decisionLogSink?: LineSink;
  metrics?: GatehouseMetrics;
  /**
   * Set in a cluster worker (workers > 1, src/cluster/worker.ts): bundles come from the primary
   * through `bundles` instead of the `bundle` setting's file or URL; decision-log lines carry
   * labels.worker = slot; the serving line says "worker is serving".
   */
  worker?: { slot: number; bundles: BundleFeed };
  /**
   * 48 bytes of TLS session ticket keys for the gRPC listener, the same in every worker process,
   * so a client resumes its TLS session on any of them. None: per-process random keys.
   */
  tlsTicketKeys?: Buffer;
  /**
   * The live map's summary that Checks are counted into (admin_ui). A cluster worker passes its own
   * (the primary asks for it); a single process with admin_ui and admin_addr makes one.
   */
  liveSummary?: LiveSummary;
}

export interface RunningApp {
  /** The bound gRPC port (0 for a unix socket, and in a cluster worker, which binds nothing). */
  grpcPort: number;
  /**
   * In a cluster worker: serves one connection the primary accepted (a socket nothing was read
   * from). Undefined in a single process, which listens itself.
   */
  injectConnection?: (socket: Socket) => void;
  adminPort: number | undefined;
  /** The bound port of the HTTP authorization listener (http_addr); undefined when it is off. */
  httpAuthzPort?: number;
  /** In a cluster worker with http_addr: serves one HTTP authorization connection the primary accepted. */
  injectHttpConnection?: (socket: Socket) => void;
  store: PolicyStore;
  metrics: GatehouseMetrics;
  /**
   * The first half of a graceful shutdown: health (grpc.health.v1 and /readyz) says NOT_SERVING at
   * once while Checks are still answered, for shutdown_drain_ms or until endDrain(). Envoy's health
   * checks and Kubernetes' endpoint removal need that time to stop sending Checks here; refusing
   * them earlier would turn each into a 403 under failure_mode_allow: false.
   */
  drain(): Promise<void>;
  /** Cuts a running drain short (a second SIGTERM). */
  endDrain(): void;
  stop(): Promise<void>;
}

export async function startApp(config: Readonly<Config>, deps: AppDeps): Promise<RunningApp> {
  const { logger } = deps;
  const protos = authzProtos();
  const metrics = deps.metrics ?? new GatehouseMetrics();
  // admin_ui off: nothing is counted for the live map (observability/live/).
  const live = deps.liveSummary ?? (config.admin_ui && config.admin_addr ? new LiveSummary(config.decision_log_mask) : undefined);
  const decisionLog = new DecisionLog(
    deps.decisionLogSink ?? openConfiguredDecisionLogSink(config, loggingSinkHooks(logger, config.decision_log_service_url)),
    {
      path: config.entrypoint,
      labels: { app: 'gatehouse', version: VERSION, instance: config.instance ?? hostname(), ...(deps.worker ? { worker: String(deps.worker.slot) } : {}) },
      maskPointers: config.decision_log_mask,
      maxValueBytes: config.decision_log_max_value_bytes,
      allowSamplePercent: config.decision_log_allow_sample_percent,
      onSinkError: (error) => logger.error({ error: error?.message, decision_log: config.decision_log }, 'the decision-log sink failed; lines are dropped and counted'),
    },
    (result) => metrics.recordLogLine(result),
  );
  // eval_timeout_ms > 0: evaluations run on evaluation threads under that deadline (policy/eval-threads.ts).
  const evalThreads = config.eval_timeout_ms > 0 ? newEvalThreads(config, logger, 'active', () => store.current()?.revision) : undefined;
  // The candidate's own thread: a runaway candidate never holds up the active policy's evaluations.
  const candidateThreads = evalThreads && config.candidate_bundle ? newEvalThreads(config, logger, 'candidate', (): string | undefined => candidate?.store.current()?.revision) : undefined;
  const evaluatorOptions = {
    evalThreads,
    entrypoint: config.entrypoint,
    maxMemoryBytes: config.max_wasm_memory_mb * 1024 * 1024,
    cache: cacheSettings(config),
    // A policy's print() lines go to the operational log, joined to the decision log by decision_id.
    print: (message: string, decisionId: string | undefined) => logger.info({ decision_id: decisionId, print: message }, 'policy print'),
  };
  const limits = { maxBytes: config.max_bundle_bytes, verify: bundleVerifier(config) };
  const recentInputs = new RecentInputs(config.activation_gate_inputs, ACTIVATION_GATE_MAX_BYTES);
  const gate =
    config.activation_gate_inputs === 0
      ? undefined
      : async (candidate: WasmPolicy, current: WasmPolicy) => {
          if (recentInputs.size === 0) {
            logger.warn({ revision: candidate.revision }, 'activation gate has no recent inputs; the bundle is activated unchecked');
            return;
          }
          logger.debug({ revision: candidate.revision, inputs: recentInputs.size }, 'activation gate started');
          // The candidate runs on the gate's own thread, never on the threads serving Checks; a runaway there names the candidate.
          const thread = evalThreads && {
            timeoutMs: config.eval_timeout_ms,
            onReplaced: (why: string, detail: string) =>
              logger.warn({ policy: 'gate_candidate', revision: candidate.revision, why, detail, eval_timeout_ms: config.eval_timeout_ms }, 'activation gate: the candidate\'s evaluation thread was replaced'),
          };
          logGate(logger, candidate, await recentInputs.check(candidate, current, undefined, thread));
        };
  const active = createUpdatingStore(config.bundle, config, evaluatorOptions, limits, logger, config.bundle_state_file, gate, deps.worker?.bundles);
  const store = active.store;
  // admin_ui: the page on the admin listener (a cluster worker has none: the primary serves it). Made
  // before anything listens: missing page files fail start-up here.
  const liveRoutes = live && config.admin_addr ? createLiveRoutes(async () => ({ ...live.window(), policy: livePolicyStatus(store.current(), store.lastError()) })) : undefined;
  // The candidate is never cached: it runs after the response, and only on a sample.
  const candidate = config.candidate_bundle
    ? createUpdatingStore(
        config.candidate_bundle,
        config,
        { ...evaluatorOptions, cache: { ...evaluatorOptions.cache, mode: 'off' }, evalThreads: candidateThreads },
        limits,
        logger,
      )
    : undefined;
  let shadowSkipLogged = Number.NEGATIVE_INFINITY;
  const shadow = candidate
    ? new ShadowEvaluator(candidate.store, config.candidate_sample_percent, {
        // One evaluation's wall-clock backstop and a thread start: a line waits no longer for its shadow result.
        holdMs: 1000 + WALL_BACKSTOP_FACTOR * config.eval_timeout_ms,
        onSkipped: (total) => {
          if (performance.now() - shadowSkipLogged < 10_000) return;
          shadowSkipLogged = performance.now();
          logger.warn({ skipped_total: total, max_pending: MAX_SHADOW_PENDING }, 'shadow evaluation: Checks not sampled, too many candidate evaluations are waiting (is the candidate slow or running away?)');
        },
        onLate: (outcome, late) => {
          metrics.recordShadow(late.comparison);
          if (late.comparison !== 'agree') logDivergence(logger, outcome, late);
        },
      })
    : undefined;
  const cache =
    config.decision_cache === 'off'
      ? undefined
      : new DecisionCache({ maxEntries: config.decision_cache_max_entries, maxBytes: config.decision_cache_max_bytes, nowMs: Date.now });
  if (cache) metrics.observeCache(() => cache.stats());

  // tracing: otlp loads the OpenTelemetry SDK here; off loads nothing (observability/tracing.ts).
  const tracer = await loadTracing(config, logger, deps.worker?.slot);

  let listening = false;
  let draining = false;
  let endDrain: (() => void) | undefined;
  // The gRPC Check's dependencies, shared with the HTTP authorization listener (http_addr).
  let checkDeps: CheckServiceDeps;
  const grpc = new GrpcServer(
    checkService((checkDeps = {
      protos,
      decode: protos.decodeCheckRequest,
      currentPolicy: () => store.current(),
      inputOptions: { maxBodyBytes: config.max_body_bytes, hygiene: requestHygiene(config), xfccTrustedSources: new Set(config.xfcc_trusted_sources), certificates: new CertificateMemo() },
      trustDomains: new Set(config.trust_domains),
      invalidSourceCertificate: config.invalid_source_certificate,
      cache,
      // A cache key that ran past eval_timeout_ms is denied at once for a few seconds (authz/recent-runaways.ts).
      runaways: cache && evalThreads ? new RecentRunaways() : undefined,
      allowedClients: new Set(config.tls_allowed_clients),
      clientTrustBundles: () => tls?.current()?.trustBundles,
      newDecisionId: randomUUID,
      nowNs: process.hrtime.bigint,
      offThread: evalThreads !== undefined,
      tracer,
      detailedTimings: tracer !== undefined,
      dryRun: config.dry_run,
      onRecordError: (error) => logger.error({ error: describeThrown(error) }, 'recording a Check\'s metrics or decision-log line failed'),
      record: (outcome: Outcome) => {
        metrics.recordCheck(outcome);
        live?.record(outcome);
        // Only what the active revision decided: a Check that raced a swap says nothing about it.
        const policy = store.current();
        if (gate && policy && outcome.revision === policy.revision) recentInputs.record(outcome, policy);
        const extra: Record<string, unknown> = {};
        // Tells readers of the log (gatehouse learn, replay) that allows are a sample.
        if (config.decision_log_allow_sample_percent < 100) extra.allow_sample_percent = config.decision_log_allow_sample_percent;
        if (config.dry_run) {
          extra.dry_run = true;
          if (dryRunLifts(outcome)) {
            extra.enforced = 'allow';
            metrics.recordDryRunOverride();
          }
        }
        const withShadow = (shadowed: ShadowResult | ShadowNotReady | undefined) => {
          if (shadowed && 'notReady' in shadowed) {
            extra.shadow = { revision: shadowed.revision, not_ready: true, reason: `the candidate's result was not ready within ${shadowed.heldMs} ms; this line was written without it` };
          } else if (shadowed) {
            metrics.recordShadow(shadowed.comparison);
            extra.shadow = { revision: shadowed.revision, outcome: shadowed.allowed ? 'allow' : 'deny', reason: shadowed.reason, comparison: shadowed.comparison };
            if (shadowed.comparison !== 'agree') logDivergence(logger, outcome, shadowed);
          }
          decisionLog.record(outcome, extra);
        };
        const shadowed = shadow?.compare(outcome);
        if (shadowed instanceof Promise) void shadowed.then(withShadow);
        else withShadow(shadowed);
      },
    })),
    // Within this limit, a body over max_body_bytes is a body_too_large deny after decoding; a
    // longer CheckRequest is discarded unread and denied the same way (grpc/oversized-requests.ts).
    {
      maxReceiveBytes: Math.max(64 * 1024 * 1024, 4 * config.max_body_bytes + 1024 * 1024),
      maxConnectionAgeMs: config.max_connection_age_ms,
      maxConnectionAgeGraceMs: config.max_connection_age_grace_ms,
      maxConcurrentStreams: config.max_concurrent_streams,
      maxConnections: config.max_connections,
      onConnectionsRefused: (count) => {
        metrics.recordConnectionsRefused(count);
        logger.warn({ refused: count, max_connections: config.max_connections }, 'connections refused: max_connections are open (raise max_connections or add workers/instances)');
      },
      onOversizeUnsupported: () => logger.error('this grpc-js version cannot be made to answer oversized CheckRequests with a deny; they get RESOURCE_EXHAUSTED (fails open under failure_mode_allow)'),
    },
  );
  const updateReadiness = () => {
    const ready = listening && !draining && store.current() !== undefined;
    grpc.setServing(ready);
    metrics.setReady(ready);
  };
  store.onLoad((result) => {
    logReload(logger, result, store.describe());
    if (result.status === 'loaded') {
      // Old entries could never be served (the bundle digest is in every key); free their memory.
      cache?.clear();
      const plan = result.policy.cachePlan;
      logger.info({ revision: result.policy.revision, decision_cache: plan.enabled ? 'on' : 'off', why: plan.why }, `decision cache ${plan.enabled ? 'on' : 'off'} for this revision`);
    }
    metrics.recordReload(result.status, result.status === 'loaded' ? result.policy.revision : undefined);
    updateReadiness();
  });

  candidate?.store.onLoad((result) => logReload(logger, result, `candidate ${candidate.store.describe()}`));
  if (config.bundle_accept_unverified_signatures) {
    logger.warn('bundle_accept_unverified_signatures is on: signed bundles are loaded without checking their signatures; set bundle_verification_key_file to verify them');
  }
  await store.reload();
  active.start();
  if (candidate) {
    await candidate.store.reload();
    candidate.start();
  }
  if (config.dry_run) logger.warn('dry_run is on: every Check is answered with allow; the policy\'s decisions are only logged and counted');

  let tls: ReloadingCertificateProvider | undefined;
  if (config.tls_cert_file && config.tls_key_file) {
    tls = new ReloadingCertificateProvider(
      { certFile: config.tls_cert_file, keyFile: config.tls_key_file, caFile: config.tls_client_ca_file, trustBundles: trustBundleFiles(config) },
      (result) => logTlsReload(logger, metrics, result),
    );
    const material = await tls.load();
    metrics.recordTlsReload('loaded', new Date(material.leaf.validTo));
    tls.start(config.tls_reload_interval_ms);
  }
  const mutualTls = config.tls_client_ca_file !== undefined || config.tls_client_trust_bundles.length > 0;
  const grpcTls = tls ? { provider: tls, mutualTls, ticketKeys: deps.tlsTicketKeys } : undefined;
  // A cluster worker binds nothing: the primary accepts and hands it connections (cluster/connections.ts).
  const injectConnection = deps.worker ? grpc.acceptFromElsewhere(grpcTls) : undefined;
  const grpcPort = injectConnection ? 0 : await grpc.bind(config.addr, grpcTls);
  listening = true;
  updateReadiness();
  // http_addr: the HTTP authorization listener, on the same pipeline and telemetry (http-authz/server.ts).
  let httpAuthz: HttpServer | undefined;
  let httpAuthzPort: number | undefined;
  if (config.http_addr) {
    httpAuthz = createHttpAuthzServer({
      ...checkDeps,
      trustedProxies: config.http_trusted_proxies,
      maxBodyBytes: config.max_body_bytes,
      maxConnections: config.max_connections,
      registry: metrics.registry,
      onError: (error, what) => logger.error({ error: describeThrown(error) }, what),
      onForwarding: (forwarding, remote) => {
        if (forwarding === 'untrusted_proxy_headers_ignored') logger.debug({ remote, http_trusted_proxies: config.http_trusted_proxies }, 'HTTP authorization: forwarding headers from a peer outside http_trusted_proxies were ignored');
      },
    });
    // A cluster worker binds nothing: the primary accepts and hands it connections (cluster/connections.ts).
    if (!deps.worker) httpAuthzPort = await listenOn(httpAuthz, config.http_addr, acceptErrorReporter(logger, 'HTTP authorization'));
  }
  const httpServer = httpAuthz;
  const injectHttpConnection = deps.worker && httpServer ? (socket: Socket) => httpServer.emit('connection', socket) : undefined;
  let admin: HttpServer | undefined;
  let adminPort: number | undefined;
  if (config.admin_addr) {
    admin = createAdminServer(metrics.registry, () => readiness(store, listening, draining), liveRoutes);
    adminPort = await listenOn(admin, config.admin_addr, acceptErrorReporter(logger, 'admin'));
  }
  logger.info(
    { addr: config.addr.text, ...(injectConnection ? {} : { grpc_port: grpcPort }), admin_addr: config.admin_addr?.text ?? 'off', admin_port: adminPort, ...(httpAuthz && !deps.worker ? { http_addr: config.http_addr!.text, http_port: httpAuthzPort } : {}), bundle: config.bundle, entrypoint: config.entrypoint, version: VERSION },
    `${deps.worker ? 'worker' : 'gatehouse'} is serving${tls ? ` (${mutualTls ? 'mTLS' : 'TLS'})` : ''}`,
  );

  return {
    grpcPort,
    adminPort,
    httpAuthzPort,
    injectHttpConnection,
    store,
    metrics,
    injectConnection,
    async drain() {
      draining = true;
      updateReadiness();
      if (config.shutdown_drain_ms === 0) return;
      logger.info({ shutdown_drain_ms: config.shutdown_drain_ms }, 'draining: health says NOT_SERVING, Checks are still answered until the drain ends');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, config.shutdown_drain_ms);
        endDrain = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      endDrain = undefined;
    },
    endDrain() {
      endDrain?.();
    },
    async stop() {
      listening = false;
      active.stop();
      candidate?.stop();
      tls?.stop();
      const httpClosed = httpAuthz && (httpAuthz.listening ? new Promise((resolve) => httpAuthz.close(resolve)) : undefined);
      httpAuthz?.closeIdleConnections();
      const how = await grpc.shutdown(config.shutdown_timeout_ms);
      httpAuthz?.closeAllConnections();
      await httpClosed;
      await Promise.all([evalThreads?.close(), candidateThreads?.close()]);
      await new Promise((resolve) => setImmediate(resolve)); // let the last Checks' telemetry run
      const flushed = await decisionLog.close(Math.min(2000, config.shutdown_timeout_ms));
      if (flushed === 'timed_out') logger.warn('the decision-log sink did not drain within 2 s; unwritten lines are lost');
      await tracer?.shutdown(Math.min(2000, config.shutdown_timeout_ms));
      liveRoutes?.close();
      if (admin) await new Promise((resolve) => admin.close(resolve));
      logger.info({ shutdown: how }, how === 'graceful' ? 'stopped after in-flight Checks finished' : 'stopped; in-flight Checks were cancelled at shutdown_timeout_ms');
    },
  };
}

/** Evaluation threads under eval_timeout_ms; a replaced thread (a timeout, a crash) is logged. */
function newEvalThreads(config: Readonly<Config>, logger: Logger, role: 'active' | 'candidate', revision: () => string | undefined): EvalThreads {
  return new EvalThreads({
    timeoutMs: config.eval_timeout_ms,
    spare: role === 'active',
    onWallClockDeadline: (detail) => logger.warn({ policy: role }, detail),
    onReplaced: (why, detail) =>
      logger.warn({ policy: role, revision: revision() ?? null, why, detail, eval_timeout_ms: config.eval_timeout_ms }, why === 'timeout' ? 'policy evaluation stopped at eval_timeout_ms; its thread was replaced' : 'evaluation thread replaced'),
  });
}

/** tls_client_trust_bundles ("trust.domain=file" pairs, validated at load) as a map; undefined when unset. */
function trustBundleFiles(config: Readonly<Config>): ReadonlyMap<string, string> | undefined {
  if (config.tls_client_trust_bundles.length === 0) return undefined;
  return new Map(config.tls_client_trust_bundles.map(trustBundlePair));
}

function logTlsReload(logger: Logger, metrics: GatehouseMetrics, result: TlsReloadResult): void {
  if (result.status === 'loaded') {
    const leaf = result.material.leaf;
    metrics.recordTlsReload('loaded', new Date(leaf.validTo));
    logger.info({ subject: leaf.subject, serial: leaf.serialNumber, not_after: new Date(leaf.validTo).toISOString() }, 'serving certificate rotated');
  } else {
    metrics.recordTlsReload('failed');
    logger.error({ error: result.error.message }, 'new TLS files rejected; the previous certificate keeps serving');
  }
}

function logGate(logger: Logger, candidate: WasmPolicy, summary: GateSummary): void {
  if (summary.unchecked > 0) {
    logger.warn(
      { revision: candidate.revision, inputs_checked: summary.checked, inputs_unchecked: summary.unchecked, budget_ms: DEFAULT_GATE_TIMING.budgetMs },
      'activation gate ran out of time; the new revision is activated on the inputs it checked',
    );
  }
  const flips = summary.allowToDeny + summary.denyToAllow + summary.denyToError;
  logger.info(
    {
      revision: candidate.revision,
      inputs_checked: summary.checked,
      inputs_skipped: summary.skipped,
      allow_to_deny: summary.allowToDeny,
      deny_to_allow: summary.denyToAllow,
      deny_to_error: summary.denyToError,
      flipped_decision_ids: summary.flipped,
      inputs_unchecked: summary.unchecked,
    },
    flips > 0 ? 'activation gate passed; the new revision decides some recent inputs the other way' : 'activation gate passed',
  );
}

function logDivergence(logger: Logger, outcome: Outcome, shadowed: ShadowResult): void {
  const http = (outcome.input?.attributes as { request?: { http?: { method?: string; path?: string } } } | undefined)?.request?.http;
  logger.info(
    {
      decision_id: outcome.decisionId,
      comparison: shadowed.comparison,
      source: outcome.input?.identity.source.principal ?? null,
      destination: outcome.input?.identity.destination.principal ?? null,
      method: http?.method,
      path: http?.path?.split('?')[0],
      active: { revision: outcome.revision, outcome: outcome.allowed ? 'allow' : 'deny', reason: outcome.reason },
      candidate: { revision: shadowed.revision, outcome: shadowed.allowed ? 'allow' : 'deny', reason: shadowed.reason },
    },
    'shadow candidate disagrees with the active policy',
  );
}

function readiness(store: PolicyStore, listening: boolean, draining: boolean) {
  const policy = store.current();
  const lastError = store.lastError();
  const detail: Record<string, unknown> = {
    listening,
    policy: policy ? { revision: policy.revision, bundle: policy.bundle, entrypoint: policy.entrypoint, loaded_at: policy.loadedAt.toISOString() } : null,
  };
  if (lastError) detail.last_reload_error = { code: lastError.code, message: lastError.message };
  if (!policy) detail.reason = 'no policy bundle loaded';
  else if (draining) detail.reason = 'shutting down: draining, Checks are still answered until shutdown_drain_ms ends';
  else if (!listening) detail.reason = 'gRPC listener not bound';
  return { ready: listening && !draining && policy !== undefined, detail };
}

function logReload(logger: Logger, result: LoadResult, bundle: string): void {
  switch (result.status) {
    case 'loaded':
      logger.info({ bundle, revision: result.policy.revision, previous_revision: result.previous?.revision ?? null }, 'policy bundle loaded');
      return;
    case 'unchanged':
      logger.debug({ bundle, revision: result.policy?.revision ?? null }, 'policy bundle unchanged');
      return;
    case 'failed':
      logger.error(
        { bundle, code: result.error.code, error: result.error.message, serving_revision: result.kept?.revision ?? null },
        result.kept ? 'policy bundle rejected; the previous revision keeps serving' : 'policy bundle rejected; no policy loaded, every Check is denied (503)',
      );
  }
}
