/** `gatehouse serve`: run the server until SIGTERM/SIGINT; with workers > 1, as a node:cluster primary. */
import cluster from 'node:cluster';
import { resolveWorkers } from '../cluster/worker-count.js';
import { WORKER_ENV } from '../cluster/worker-pool.js';
import { loadConfig } from '../config/load.js';
import { describeThrown } from '../errors.js';
import { createLogger, type Logger } from '../observability/logger.js';
import type { Io } from './common.js';
import type { Values } from './config-flags.js';

/**
 * Serves with the configuration from --config, the environment and `values` (the flags parsed by
 * the CLI from config/schema.ts, keyed by flag name; `--no-watch` arrives as watch: false).
 */
export async function serve(values: Values, io: Io): Promise<number> {
  const flags: Record<string, string | boolean | undefined> = {};
  for (const [name, value] of Object.entries(values)) {
    if (name !== 'config' && (typeof value === 'string' || typeof value === 'boolean')) flags[name] = value;
  }
  // Each mode loads only its own modules: the primary never loads the policy runtime. A worker
  // never reads the config file, environment or flags: it serves with the configuration the
  // primary loaded (sent in its start message), so a replacement cannot differ from the others.
  if (cluster.isWorker && process.env[WORKER_ENV] !== undefined) {
    const { runWorker } = await import('../cluster/worker.js');
    return runWorker(createLogger);
  }
  const config = loadConfig({ flags, env: io.env, file: values.config as string | undefined });
  const logger = createLogger(config.log_level);
  // Run as a worker of someone else's cluster (a process manager's cluster mode): that cluster
  // already spreads the connections; this process serves alone.
  const workers = cluster.isWorker ? 1 : resolveWorkers(config.workers);
  if (cluster.isWorker && config.workers !== 'auto' && config.workers !== '1') {
    logger.warn({ workers: config.workers }, 'this process is a worker of another node:cluster; workers is ignored and it serves as one process');
  }
  if (workers > 1) {
    const { startPrimary } = await import('../cluster/primary.js');
    return serveUntilSignalled(logger, () => startPrimary(config, logger, workers));
  }
  const { startApp } = await import('../app.js');
  return serveUntilSignalled(logger, async () => {
    const app = await startApp(config, { logger });
    return { endDrain: () => app.endDrain(), shutdown: () => app.drain().then(() => app.stop()) };
  });
}

/** A started server as the signal handling sees it: one process, or the cluster primary. */
interface Serving {
  /** Drain (health NOT_SERVING, Checks answered for shutdown_drain_ms), then stop; resolves when stopped. */
  shutdown(): Promise<void>;
  /** Cut a running drain short (a second signal). */
  endDrain(): void;
}

/**
 * Starts the server and runs it until SIGTERM/SIGINT: the first signal drains and stops it, a
 * second ends the drain early; exits 0. Start-up failures are logged and rethrown (exit 2).
 */
async function serveUntilSignalled(logger: Logger, start: () => Promise<Serving>): Promise<number> {
  // Handlers first: a signal while start-up waits (a first HTTP bundle fetch that hangs) must not
  // kill the process with the signal's default exit status.
  let serving: Serving | undefined;
  let stopping = false;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.info({ signal }, 'second signal: ending the drain now');
      serving?.endDrain();
      return;
    }
    stopping = true;
    if (!serving) {
      // Nothing is serving yet: nothing to drain.
      logger.info({ signal }, 'shutting down before start-up finished');
      logger.flush();
      process.exit(0);
    }
    logger.info({ signal }, 'shutting down');
    serving.shutdown().then(finish, (error: unknown) => {
      logger.error({ error: describeThrown(error) }, 'error during shutdown');
      finish();
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    serving = await start();
  } catch (error) {
    logger.fatal({ error: describeThrown(error) }, 'gatehouse failed to start');
    logger.flush();
    throw error;
  }
  await finished;
  logger.flush();
  // Explicitly: a write stuck on a stalled decision-log sink would keep the process alive, and a
  // further signal arriving now must not turn a clean shutdown into 130 or 143.
  process.exit(0);
}
