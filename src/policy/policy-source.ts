/**
 * Turning the `bundle` / `candidate_bundle` settings into a PolicyStore that keeps itself up to
 * date: a file or directory is watched for changes; an http(s) URL is polled. In a cluster worker
 * the primary does that and hands each bundle over (a BundleFeed); the worker only loads it.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { Bundle, BundleLimits } from './bundle.js';
import type { EvaluatorOptions } from './evaluator.js';
import { HttpBundleSource } from './http-source.js';
import { PolicyStore, type BundleLocation, type LoadResult, type PolicyStoreOptions } from './policy-store.js';
import { watchBundle } from './watcher.js';

export interface UpdatingStore {
  store: PolicyStore;
  /** Start watching or polling; the first load is the caller's (`store.reload()`). */
  start(): void;
  stop(): void;
}

/**
 * Bundles handed over by someone else (a cluster primary): `current()` is the bundle to load first,
 * and `attach` gives the feed the store it drives with prepare()/commit() afterwards.
 */
export interface BundleFeed {
  current(): Bundle | undefined;
  attach(store: PolicyStore): void;
  detach(): void;
}

export function isUrl(spec: string): boolean {
  return /^https?:\/\//i.test(spec);
}

/** The HTTP bundle source for an http(s) `spec`, else undefined. */
export function httpBundleSource(spec: string, config: Readonly<Config>): HttpBundleSource | undefined {
  if (!isUrl(spec)) return undefined;
  return new HttpBundleSource({
    url: spec,
    bearerToken: config.bundle_bearer_token,
    minDelayMs: config.bundle_poll_min_ms,
    maxDelayMs: config.bundle_poll_max_ms,
    timeoutMs: config.bundle_fetch_timeout_ms,
    maxBytes: config.max_bundle_bytes,
  });
}

/**
 * Calls `reload` whenever the bundle may have changed: each HTTP poll, or each debounced change of
 * the file or directory (when `watch` is on). Returns the function that stops it.
 */
export function keepUpdated(
  spec: string,
  http: HttpBundleSource | undefined,
  config: Readonly<Config>,
  logger: Logger,
  reload: () => Promise<Pick<LoadResult, 'status'> & { error?: { code: string } }>,
): () => void {
  if (http) {
    // A transport failure backs off; a bundle that downloads but is rejected does not
    // (its ETag is remembered, so it is not downloaded again until it changes).
    http.start(async () => {
      const result = await reload();
      return !(result.status === 'failed' && result.error?.code === 'bundle_read_error');
    });
    return () => http.stop();
  }
  if (!config.watch) return () => undefined;
  const watcher = watchBundle(spec, config.reload_debounce_ms, () => void reload().catch(() => undefined), (error) =>
    logger.warn({ err: error, bundle: spec }, 'cannot watch the bundle path; reloads on change are off'),
  );
  return () => watcher.close();
}

export function createUpdatingStore(
  spec: string,
  config: Readonly<Config>,
  evaluator: EvaluatorOptions,
  limits: BundleLimits,
  logger: Logger,
  stateFile?: string,
  gate?: PolicyStoreOptions['gate'],
  feed?: BundleFeed,
): UpdatingStore {
  const http = feed ? undefined : httpBundleSource(spec, config);
  const location: BundleLocation = feed
    ? { kind: 'pushed', name: spec, current: () => feed.current() }
    : http
      ? { kind: 'http', source: http }
      : { kind: 'file', path: spec };
  const store = new PolicyStore({
    ...evaluator,
    ...limits,
    location,
    requireNewerRevision: config.bundle_require_newer_revision,
    revisionStateFile: stateFile,
    gate,
  });
  let stopUpdates: (() => void) | undefined;
  return {
    store,
    start() {
      if (feed) {
        feed.attach(store);
        stopUpdates = () => feed.detach();
      } else {
        stopUpdates = keepUpdated(spec, http, config, logger, () => store.reload());
      }
    },
    stop() {
      stopUpdates?.();
    },
  };
}
