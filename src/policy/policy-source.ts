/**
 * Turning the `bundle` / `candidate_bundle` settings into a PolicyStore that keeps itself up to
 * date: a file or directory is watched for changes; an http(s) URL is polled.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { BundleLimits } from './bundle.js';
import type { EvaluatorOptions } from './evaluator.js';
import { HttpBundleSource } from './http-source.js';
import { PolicyStore, type BundleLocation, type PolicyStoreOptions } from './policy-store.js';
import { watchBundle } from './watcher.js';

export interface UpdatingStore {
  store: PolicyStore;
  /** Start watching or polling; the first load is the caller's (`store.reload()`). */
  start(): void;
  stop(): void;
}

export function isUrl(spec: string): boolean {
  return /^https?:\/\//i.test(spec);
}

export function createUpdatingStore(
  spec: string,
  config: Readonly<Config>,
  evaluator: EvaluatorOptions,
  limits: BundleLimits,
  logger: Logger,
  stateFile?: string,
  gate?: PolicyStoreOptions['gate'],
): UpdatingStore {
  const http = isUrl(spec)
    ? new HttpBundleSource({
        url: spec,
        bearerToken: config.bundle_bearer_token,
        minDelayMs: config.bundle_poll_min_ms,
        maxDelayMs: config.bundle_poll_max_ms,
        timeoutMs: config.bundle_fetch_timeout_ms,
        maxBytes: config.max_bundle_bytes,
      })
    : undefined;
  const location: BundleLocation = http ? { kind: 'http', source: http } : { kind: 'file', path: spec };
  const store = new PolicyStore({
    ...evaluator,
    ...limits,
    location,
    requireNewerRevision: config.bundle_require_newer_revision,
    revisionStateFile: stateFile,
    gate,
  });
  let stopWatching: (() => void) | undefined;
  return {
    store,
    start() {
      if (http) {
        // A transport failure backs off; a bundle that downloads but is rejected does not
        // (its ETag is remembered, so it is not downloaded again until it changes).
        http.start(async () => {
          const result = await store.reload();
          return !(result.status === 'failed' && result.error.code === 'bundle_read_error');
        });
        stopWatching = () => http.stop();
      } else if (config.watch) {
        const watcher = watchBundle(spec, config.reload_debounce_ms, () => store.reload().catch(() => undefined), (error) =>
          logger.warn({ err: error, bundle: spec }, 'cannot watch the bundle path; reloads on change are off'),
        );
        stopWatching = () => watcher.close();
      }
    },
    stop() {
      stopWatching?.();
    },
  };
}
