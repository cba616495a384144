/** `gatehouse serve`: run the server until SIGTERM/SIGINT; with workers > 1, as a node:cluster primary. */
import cluster from 'node:cluster';
import { resolveWorkers } from '../cluster/worker-count.js';
import { WORKER_ENV } from '../cluster/worker-pool.js';
import { loadConfig } from '../config/load.js';
import { CONFIG_KEYS, envName, flagName } from '../config/schema.js';
import { describeThrown } from '../errors.js';
import { createLogger, type Logger } from '../observability/logger.js';
import type { ParseArgsConfig } from 'node:util';
import { parse, type Io } from './common.js';

export function serveUsage(): string {
  const lines = Object.entries(CONFIG_KEYS).map(([key, spec]) => {
    const def =
      spec.type === 'path' ? 'optional' : spec.default === undefined ? 'required' : Array.isArray(spec.default) ? 'default none' : `default ${JSON.stringify(spec.default)}`;
    return `  --${flagName(key).padEnd(22)} ${spec.help} (${def}; env ${envName(key)})`;
  });
  return `Usage: gatehouse serve [--config FILE] [flags]

Serves envoy.service.auth.v3.Authorization/Check and grpc.health.v1.Health. Every setting can be
given in a YAML file (--config, snake_case keys), as an environment variable, or as a flag; flags
win over the environment, which wins over the file.

  --config FILE            YAML configuration file
${lines.join('\n')}

Workers: with workers > 1 (auto: the CPUs this process may use) the process is a primary that
forks that many workers sharing the gRPC listener, one connection to one worker; it serves the
admin port (metrics summed over the workers), writes every worker's decision-log lines, owns the
bundle source (all workers switch revisions together) and replaces a worker that dies or stops
answering heartbeats for 10 s. Workers serve the configuration the primary loaded at start.

Signals: SIGTERM/SIGINT turn health (grpc.health.v1, /readyz) to NOT_SERVING at once and keep
answering Checks for shutdown_drain_ms; then new calls are refused (GOAWAY), in-flight ones finish
(up to shutdown_timeout_ms), logs flush, exit 0. A second SIGTERM/SIGINT ends the drain early.
A signal before start-up finishes (say, a first HTTP bundle fetch that hangs) exits 0 at once.
With workers, signals go to the primary; workers ignore them and follow the primary.
Example:
  gatehouse serve --bundle build/bundle.tar.gz --addr 127.0.0.1:9191 --admin-addr 127.0.0.1:9192`;
}

export async function serve(args: string[], io: Io): Promise<number> {
  const options: NonNullable<ParseArgsConfig['options']> = { config: { type: 'string' } };
  for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
    options[flagName(key)] = { type: 'string' };
    if (spec.type === 'boolean') options[`no-${flagName(key)}`] = { type: 'boolean' };
  }
  const { values } = parse(args, options, serveUsage());
  if (values.help) {
    io.stdout(`${serveUsage()}\n`);
    return 0;
  }
  const flags: Record<string, string | boolean | undefined> = {};
  for (const [name, value] of Object.entries(values)) {
    if (name.startsWith('no-') && value === true) flags[name.slice(3)] = false;
    else flags[name] = value as string | boolean | undefined;
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
