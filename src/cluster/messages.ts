/**
 * The IPC protocol between the cluster primary and its workers (node:cluster's channel, with
 * `serialization: 'advanced'`, so Buffers in a Bundle arrive as Buffers). Every message carries a
 * `gatehouse` tag so that messages of other modules on the same channel are ignored.
 */
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { Bundle } from '../policy/bundle.js';
import type { ConnectionMessage } from './connections.js';
import type { LiveWindow } from '../observability/live/live-summary.js';

/** One registry's metrics as prom-client's getMetricsAsJSON() gives them (AggregatorRegistry.aggregate's input). */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** Primary → worker. */
export type PrimaryMessage =
  /**
   * The first message: which slot the worker fills, the configuration the primary loaded (a worker
   * never reads the config file or flags itself: a replacement serves what the others serve), the
   * committed bundle, shared TLS ticket keys.
   */
  | { gatehouse: 'start'; slot: number; config: Config; bundle: Bundle | undefined; tlsTicketKeys: Buffer }
  /** Phase one of a bundle switch: load it and run the activation gate, answer `prepared`. */
  | { gatehouse: 'bundle-prepare'; round: number; bundle: Bundle }
  /** Phase two: every worker said ok; activate what `round` prepared. */
  | { gatehouse: 'bundle-commit'; round: number }
  /** Some worker refused (or did not answer): drop what `round` prepared, keep the active bundle. */
  | { gatehouse: 'bundle-abort'; round: number }
  /** A worker that started with an older bundle than the one committed meanwhile: load and activate it. */
  | { gatehouse: 'bundle-activate'; bundle: Bundle }
  | { gatehouse: 'metrics-request'; id: number }
  /** admin_ui: a live page is connected; answer `live-window` with this worker's summary (cluster/live-collector.ts). */
  | { gatehouse: 'live-request'; id: number }
  /** Heartbeat: answer `pong` (a worker that stops answering is marked not ready, then replaced). */
  | { gatehouse: 'ping'; id: number }
  /** SIGTERM reached the primary: drain, stop, flush decision lines, say `stopped`, exit. */
  | { gatehouse: 'drain' }
  /** A second signal: end the drain now. */
  | { gatehouse: 'end-drain' }
  /**
   * A connection the primary accepted, as the message's handle (nothing read from it yet): answer
   * `connection-taken` at once, then serve it (cluster/connections.ts).
   */
  | ConnectionMessage;

/** What a worker tells about itself for /readyz. */
export interface WorkerState {
  ready: boolean;
  revision: string | null;
  digest: string | null;
  reason?: string;
}

/** Worker → primary. */
export type WorkerMessage =
  /** The worker listens for messages now; the primary answers with `start`. */
  | { gatehouse: 'hello' }
  | { gatehouse: 'started'; state: WorkerState }
  /** Start-up failed or the worker crashed (it exits 1 after this); `code` when it was a GatehouseError. */
  | { gatehouse: 'failed'; code: string | undefined; message: string }
  | { gatehouse: 'state'; state: WorkerState }
  | { gatehouse: 'bundle-prepared'; round: number; ok: true }
  | { gatehouse: 'bundle-prepared'; round: number; ok: false; code: string; message: string }
  | { gatehouse: 'metrics'; id: number; metrics: MetricsJson }
  | { gatehouse: 'pong'; id: number }
  | { gatehouse: 'live-window'; id: number; window: LiveWindow }
  /** Whole decision-log lines, `count` of them, each ending in "\n". */
  | { gatehouse: 'log-lines'; text: string; count: number }
  /** The worker has connection `id` (the primary closes its copy); sent before the worker reads from it. */
  | { gatehouse: 'connection-taken'; id: number }
  /** A connection the worker took has closed (the primary counts open connections per worker). */
  | { gatehouse: 'connection-closed'; id: number }
  /** Drained and stopped; every decision line was sent before this message. */
  | { gatehouse: 'stopped' };

export function isPrimaryMessage(message: unknown): message is PrimaryMessage {
  return typeof message === 'object' && message !== null && typeof (message as { gatehouse?: unknown }).gatehouse === 'string';
}

export function isWorkerMessage(message: unknown): message is WorkerMessage {
  return isPrimaryMessage(message);
}
