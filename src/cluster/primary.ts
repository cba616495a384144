/**
 * `gatehouse serve` with workers > 1: the node:cluster primary. It answers no Check itself; it
 * owns the gRPC listener and hands each accepted connection to the worker with the fewest
 * (cluster/connections.ts; balancing is per connection, see docs/operations.md#workers), and
 * N worker processes serve them. To the operator it stays
 * one server: the primary owns the admin port (/metrics aggregated over the workers by
 * prom-client's AggregatorRegistry, /readyz from the workers' readiness), the decision-log sink
 * (workers send whole lines), the bundle source (every worker switches to a new revision together
 * or not at all), the TLS session-ticket keys, and the signals (SIGTERM drains every worker).
 */
import { randomBytes } from 'node:crypto';
import v8 from 'node:v8';
import type { Worker } from 'node:cluster';
import type { Server as HttpServer } from 'node:http';
import { AggregatorRegistry, Registry } from 'prom-client';
import { bundleVerifier } from '../policy/bundle-verifier.js';
import type { Config } from '../config/schema.js';
import { createAdminServer, type Readiness } from '../observability/admin-server.js';
import { loggingSinkHooks, openConfiguredDecisionLogSink } from '../observability/log-sink.js';
import type { Logger } from '../observability/logger.js';
import { GatehouseMetrics } from '../observability/metrics.js';
import { VERSION } from '../version.js';
import { BundleDistributor } from './bundle-distributor.js';
import { ConnectionHandOff } from './connections.js';
import { acceptErrorReporter, listenOn } from '../listen.js';
import { DecisionLogRelay } from './decision-log-relay.js';
import { LiveCollector } from './live-collector.js';
import { createLiveRoutes, livePolicyStatus, type LiveRoutes } from '../observability/live/live-routes.js';
import { WorkerPool } from './worker-pool.js';

export interface RunningPrimary {
  grpcPort: number;
  /** The HTTP authorization listener's bound port (http_addr); undefined when it is off or a unix socket. */
  httpPort?: number;
  adminPort: number | undefined;
  /** SIGTERM: every worker drains and stops, then the decision log flushes. */
  shutdown(): Promise<void>;
  /** A second signal: the workers end their drain now. */
  endDrain(): void;
}

/**
 * Starts `workers` worker processes and everything they share. Rejects (after stopping them) when
 * every worker fails to start, with the worker's error.
 */
export async function startPrimary(config: Readonly<Config>, logger: Logger, workers: number): Promise<RunningPrimary> {
  // The primary answers no Check; what it allocates (decision-log batches from the workers, bundles,
  // metrics scrapes) is short-lived. V8 grows the young generation towards 2 x 16 MiB under such
  // bursts and keeps it: +20 MB of RSS over the first minutes of the soak that never came back.
  // Read whenever V8 would grow it, so setting it now holds it at its starting size.
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  const metrics = new GatehouseMetrics({ processMetrics: true });
  const relay = new DecisionLogRelay(openConfiguredDecisionLogSink(config, loggingSinkHooks(logger, config.decision_log_service_url)), metrics, logger, config.decision_log);
  let stopping = false;
  let stopAccepting: NodeJS.Timeout | undefined;
  // One set of TLS session-ticket keys for every worker: a session resumes on whichever gets the connection.
  const tlsTicketKeys = randomBytes(48);
  const connections: ConnectionHandOff = new ConnectionHandOff({
    targets: (): readonly Worker[] => pool.connectionTargets(),
    maxQueued: config.max_connections,
    onRefused: (count) => {
      metrics.recordConnectionsRefused(count);
      logger.warn({ refused: count }, 'connections closed unserved: no worker could take them (all restarting) and max_connections were waiting, no running worker could receive them (out of descriptors?), or the listener stopped');
    },
    onAcceptError: acceptErrorReporter(logger, 'gRPC'),
  });
  const pool = new WorkerPool({
    connections,
    count: workers,
    config,
    logger,
    metrics,
    tlsTicketKeys,
    onLogLines: (text, count) => relay.write(text, count),
    onStateChange: () => metrics.setReady(readiness().ready),
  });
  metrics.enableWorkers(() => pool.running());
  const bundles = new BundleDistributor(config, { maxBytes: config.max_bundle_bytes, verify: bundleVerifier(config) }, logger, metrics, (bundle) => pool.switchTo(bundle));
  if (config.bundle_accept_unverified_signatures) {
    logger.warn('bundle_accept_unverified_signatures is on: signed bundles are loaded without checking their signatures; set bundle_verification_key_file to verify them');
  }

  const readiness = (): Readiness => {
    const summary = pool.summary();
    // Workers still starting (a replacement) are not listening yet and get no connections.
    const running = summary.filter((worker) => worker.started);
    const revisions = new Set(running.map((worker) => worker.revision));
    const committed = bundles.committed();
    const lastError = bundles.lastError();
    // Ready when the workers are; revisions differ only for the moment of a switch (or when a worker
    // could not load the revision the others serve, which is logged): shown, not held against readiness.
    const ready = !stopping && running.length > 0 && running.every((worker) => worker.ready);
    const detail: Record<string, unknown> = {
      policy: committed ? { revision: committed.revision, bundle: committed.source, loaded_at: bundles.committedAt()?.toISOString() } : null,
      workers: summary,
    };
    if (lastError) detail.last_reload_error = { code: lastError.code, message: lastError.message };
    if (revisions.size > 1) detail.revisions_differ = true;
    if (!ready) {
      detail.reason = stopping
        ? 'shutting down: draining, Checks are still answered until shutdown_drain_ms ends'
        : running.length === 0
          ? 'no worker is running'
          : !committed
            ? 'no policy bundle loaded'
            : 'a worker is not ready (see workers)';
    }
    return { ready, detail };
  };

  await bundles.reload();
  let grpcPort: number;
  let httpPort: number | undefined;
  try {
    // Bound first: a taken port fails start-up before any worker is forked. Connections that
    // arrive before a worker started wait for it (up to max_connections of them).
    grpcPort = await connections.listen(config.addr);
    // http_addr: the HTTP authorization listener's connections go to the workers the same way.
    if (config.http_addr) httpPort = await connections.listen(config.http_addr, 'http', acceptErrorReporter(logger, 'HTTP authorization'));
    await pool.start();
  } catch (error) {
    connections.close();
    await pool.kill();
    await relay.close(1000);
    throw error;
  }
  bundles.start();
  metrics.setReady(readiness().ready);

  let admin: HttpServer | undefined;
  let adminPort: number | undefined;
  let liveRoutes: LiveRoutes | undefined;
  let closeLive: () => void = () => undefined;
  if (config.admin_addr) {
    const aggregated = {
      contentType: Registry.PROMETHEUS_CONTENT_TYPE,
      async metrics(): Promise<string> {
        metrics.setReady(readiness().ready);
        const [own, workerMetrics] = await Promise.all([metrics.registry.getMetricsAsJSON(), pool.collectMetrics()]);
        return AggregatorRegistry.aggregate([own, ...workerMetrics]).metrics();
      },
    };
    // admin_ui: the live map of the whole server, every worker's summary merged while a page is connected.
    const collector = config.admin_ui ? new LiveCollector(() => pool.connectionTargets()) : undefined;
    closeLive = () => {
      liveRoutes?.close();
      collector?.close();
    };
    try {
      liveRoutes = collector && createLiveRoutes(async () => {
        const { window, reporting, running } = await collector.collect();
        const committed = bundles.committed();
        return { ...window, policy: livePolicyStatus(committed && { revision: committed.revision, bundle: committed.source, loadedAt: bundles.committedAt() }, bundles.lastError()), workers: { reporting, running, configured: workers } };
      });
      admin = createAdminServer(aggregated, readiness, liveRoutes);
      adminPort = await listenOn(admin, config.admin_addr, acceptErrorReporter(logger, 'admin'));
    } catch (error) {
      closeLive();
      connections.close();
      await pool.kill();
      throw error;
    }
  }
  const tls = config.tls_cert_file !== undefined && config.tls_key_file !== undefined;
  const mutualTls = config.tls_client_ca_file !== undefined || config.tls_client_trust_bundles.length > 0;
  logger.info(
    { addr: config.addr.text, grpc_port: grpcPort, ...(config.http_addr ? { http_addr: config.http_addr.text, http_port: httpPort } : {}), admin_addr: config.admin_addr?.text ?? 'off', admin_port: adminPort, bundle: config.bundle, entrypoint: config.entrypoint, version: VERSION, workers, pid: process.pid },
    `gatehouse is serving${tls ? ` (${mutualTls ? 'mTLS' : 'TLS'})` : ''} with ${workers} workers`,
  );

  return {
    grpcPort,
    httpPort,
    adminPort,
    async shutdown() {
      stopping = true;
      metrics.setReady(false);
      bundles.stop();
      if (config.shutdown_drain_ms > 0) logger.info({ shutdown_drain_ms: config.shutdown_drain_ms, workers }, 'draining: every worker says NOT_SERVING and answers Checks until the drain ends');
      // Workers stop within shutdown_drain_ms + shutdown_timeout_ms + their 2 s log flush; past that (and a margin), they are killed.
      const limit = setTimeout(() => {
        logger.error('workers did not stop in time; killing them');
        void pool.kill();
      }, config.shutdown_drain_ms + config.shutdown_timeout_ms + 10_000);
      // New connections are taken until the drain ends (as a single process does), then refused.
      stopAccepting = setTimeout(() => connections.close(), config.shutdown_drain_ms);
      await pool.drain();
      clearTimeout(limit);
      clearTimeout(stopAccepting);
      connections.close();
      const flushed = await relay.close(Math.min(2000, config.shutdown_timeout_ms));
      if (flushed === 'timed_out') logger.warn('the decision-log sink did not drain within 2 s; unwritten lines are lost');
      closeLive();
      if (admin) await new Promise((resolve) => admin.close(resolve));
      logger.info({ workers }, 'stopped after in-flight Checks finished on every worker');
    },
    endDrain() {
      clearTimeout(stopAccepting);
      connections.close();
      pool.endDrain();
    },
  };
}

/**
 * Logs a listener's failed accepts: the first at once, then their count at most every 10 s.
 * `listener` names it in the message ("gRPC", "admin").
 */
