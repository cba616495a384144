/**
 * One cluster worker (workers > 1): the same app as a single process (startApp), minus what the
 * primary does for all workers: no admin port (the primary serves it, asking each worker for its
 * metrics), no bundle source (the primary hands bundles over, src/cluster/bundle-feed.ts), no
 * decision-log sink of its own (lines go to the primary in batches, src/cluster/ipc-line-sink.ts).
 * It ignores SIGTERM/SIGINT (a terminal or a process-group kill reaches every process): it drains
 * when the primary says so, and exits when the primary is gone.
 */
import { Socket } from 'node:net';
import process from 'node:process';
import { startApp, type RunningApp } from '../app.js';
import type { Config } from '../config/schema.js';
import { GatehouseError, describeThrown } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { GatehouseMetrics } from '../observability/metrics.js';
import { WorkerBundleFeed } from './bundle-feed.js';
import { IpcLineSink } from './ipc-line-sink.js';
import { decisionLogEnabled } from '../observability/log-sink.js';
import { isPrimaryMessage, type PrimaryMessage, type WorkerMessage, type WorkerState } from './messages.js';
import { LiveSummary } from '../observability/live/live-summary.js';

/**
 * Runs until the primary says drain (exit 0) or goes away (exit 1); never returns normally. The
 * configuration comes from the primary's start message, never from the file, environment or
 * flags: a replacement forked after the file changed serves what the other workers serve.
 * `createWorkerLogger(level)`: the logger, once the configured log level is known.
 */
export async function runWorker(createWorkerLogger: (level: Config['log_level']) => Logger): Promise<number> {
  // Until the primary's configuration arrives (only the primary's disconnect can be logged here).
  let baseLogger = createWorkerLogger('info');
  const ignore = () => undefined;
  process.on('SIGTERM', ignore);
  process.on('SIGINT', ignore);
  const send = (message: WorkerMessage, callback: (error: Error | null) => void = ignore): boolean => {
    if (!process.connected) {
      callback(new Error('the primary is gone'));
      return false;
    }
    return process.send!(message, undefined, undefined, callback);
  };
  process.on('disconnect', () => {
    baseLogger.warn({ pid: process.pid }, 'the primary is gone; this worker exits');
    baseLogger.flush();
    process.exit(1);
  });

  const start = await new Promise<Extract<PrimaryMessage, { gatehouse: 'start' }>>((resolve) => {
    const onStart = (message: unknown) => {
      if (isPrimaryMessage(message) && message.gatehouse === 'start') {
        process.off('message', onStart);
        resolve(message);
      }
    };
    process.on('message', onStart);
    send({ gatehouse: 'hello' });
  });
  if (typeof start.config !== 'object' || start.config === null) {
    // dist/ replaced under a running primary of an older version: its start message has no config.
    const message = 'the primary sent no configuration: it runs another gatehouse version (dist/ was replaced under it); restart the server';
    baseLogger.fatal({ pid: process.pid }, message);
    baseLogger.flush();
    send({ gatehouse: 'failed', code: 'internal_error', message }, () => process.exit(1));
    return new Promise<number>(() => undefined);
  }
  const config: Readonly<Config> = start.config;
  baseLogger = createWorkerLogger(config.log_level);
  const logger = baseLogger.child({ worker: start.slot });
  // A crash is logged here and reported to the primary, which replaces this worker.
  const crash = (error: unknown) => {
    const message = describeThrown(error);
    logger.fatal({ error: message }, 'worker crashed');
    logger.flush();
    setTimeout(() => process.exit(1), 1000);
    send({ gatehouse: 'failed', code: 'internal_error', message }, () => process.exit(1));
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  const metrics = new GatehouseMetrics({ processMetrics: true, relayedDecisionLog: true });
  const sink = decisionLogEnabled(config) ? new IpcLineSink(send, config.decision_log_buffer_bytes) : undefined;
  // admin_ui: this worker's share of the live map; the primary merges every worker's (cluster/live-collector.ts).
  const liveSummary = config.admin_ui && config.admin_addr ? new LiveSummary(config.decision_log_mask) : undefined;
  let app: RunningApp | undefined;
  let draining = false;
  const state = (): WorkerState => {
    const policy = app?.store.current();
    const ready = app !== undefined && !draining && policy !== undefined;
    const reason = !app ? 'starting' : draining ? 'draining' : !policy ? 'no policy bundle loaded' : undefined;
    return { ready, revision: policy?.revision ?? null, digest: policy?.digest ?? null, ...(reason ? { reason } : {}) };
  };
  const feed = new WorkerBundleFeed(start.bundle, (message) => send(message), logger, () => send({ gatehouse: 'state', state: state() }));

  const stopAndExit = async () => {
    draining = true;
    send({ gatehouse: 'state', state: state() });
    if (app) {
      try {
        await app.drain();
        await app.stop(); // closes the decision log: every line is handed to the IPC channel first
      } catch (error) {
        logger.error({ error: describeThrown(error) }, 'error during shutdown');
      }
    }
    logger.flush();
    send({ gatehouse: 'stopped' }, () => process.exit(0));
  };
  process.on('message', (message: unknown, handle: unknown) => {
    if (!isPrimaryMessage(message) || feed.handle(message)) return;
    switch (message.gatehouse) {
      case 'connection': {
        // Taken before anything is read from it: from here on the primary never hands it to
        // another worker, which could otherwise get a connection with its TLS handshake half read.
        send({ gatehouse: 'connection-taken', id: message.id });
        const socket = handle instanceof Socket ? handle : undefined;
        if (!socket) return;
        const inject = message.listener === 'http' ? app?.injectHttpConnection : app?.injectConnection;
        if (!inject) {
          socket.destroy();
          return;
        }
        socket.once('close', () => send({ gatehouse: 'connection-closed', id: message.id }));
        inject(socket);
        return;
      }
      case 'metrics-request':
        metrics.registry.getMetricsAsJSON().then(
          (json) => send({ gatehouse: 'metrics', id: message.id, metrics: json }),
          () => send({ gatehouse: 'metrics', id: message.id, metrics: [] }),
        );
        return;
      case 'ping':
        send({ gatehouse: 'pong', id: message.id });
        return;
      case 'live-request':
        if (liveSummary) send({ gatehouse: 'live-window', id: message.id, window: liveSummary.window() });
        return;
      case 'drain':
        if (!draining) void stopAndExit();
        return;
      case 'end-drain':
        app?.endDrain();
        return;
      default:
    }
  });

  try {
    // The primary serves the admin port and owns bundle_state_file.
    app = await startApp(
      { ...config, admin_addr: null, bundle_state_file: undefined },
      { logger, metrics, decisionLogSink: sink, worker: { slot: start.slot, bundles: feed }, tlsTicketKeys: start.tlsTicketKeys, liveSummary },
    );
  } catch (thrown) {
    // As a single process would: serve logs it, main prints it (a GatehouseError with its code).
    const message = describeThrown(thrown);
    logger.fatal({ error: message }, 'worker failed to start');
    logger.flush();
    send({ gatehouse: 'failed', code: thrown instanceof GatehouseError ? thrown.code : undefined, message }, () => process.exit(1));
    return new Promise<number>(() => undefined);
  }
  if (draining) {
    // The primary said drain while start-up ran.
    draining = false;
    void stopAndExit();
  } else {
    send({ gatehouse: 'started', state: state() });
  }
  return new Promise<number>(() => undefined);
}
