/**
 * The primary's bundle source (workers > 1): it reads the `bundle` file or directory (watched) or
 * polls the URL, verifies signatures and replay protection, exactly as a single process does
 * (policy-source.ts, policy-store.ts), but instead of loading the policy it switches every worker
 * to the new bundle in two phases (WorkerPool.switchTo): all load and gate it, then all activate
 * it; one refusal and all keep the active one. The refusal is logged and counted here, once.
 */
import { coalesced } from '../policy/coalesce.js';
import type { Config } from '../config/schema.js';
import { GatehouseError, toGatehouseError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { GatehouseMetrics } from '../observability/metrics.js';
import type { Bundle, BundleLimits } from '../policy/bundle.js';
import { httpBundleSource, keepUpdated } from '../policy/policy-source.js';
import {
  checkFreshness,
  describeLocation,
  fetchBundle,
  readRevisionState,
  writeRevisionState,
  type Activated,
  type BundleLocation,
} from '../policy/policy-store.js';

export type DistributeResult =
  | { status: 'loaded'; bundle: Bundle; previous: Bundle | undefined }
  | { status: 'unchanged'; bundle: Bundle | undefined }
  | { status: 'failed'; error: GatehouseError; kept: Bundle | undefined };

/** Two-phase switch of every running worker to `bundle`; throws GatehouseError when any refuses. */
export type SwitchWorkers = (bundle: Bundle) => Promise<void>;

export class BundleDistributor {
  readonly #location: BundleLocation;
  readonly #limits: BundleLimits;
  readonly #config: Readonly<Config>;
  readonly #logger: Logger;
  readonly #metrics: GatehouseMetrics;
  readonly #switchWorkers: SwitchWorkers;
  readonly #spec: string;
  #committed: Bundle | undefined;
  #committedAt: Date | undefined;
  #lastError: GatehouseError | undefined;
  #floor: Activated | undefined;
  readonly #reload = coalesced(() => this.#loadOnce());
  #stop: (() => void) | undefined;

  constructor(config: Readonly<Config>, limits: BundleLimits, logger: Logger, metrics: GatehouseMetrics, switchWorkers: SwitchWorkers) {
    this.#spec = config.bundle;
    this.#config = config;
    this.#limits = limits;
    this.#logger = logger;
    this.#metrics = metrics;
    this.#switchWorkers = switchWorkers;
    const http = httpBundleSource(config.bundle, config);
    this.#location = http ? { kind: 'http', source: http } : { kind: 'file', path: config.bundle };
    this.#floor = readRevisionState(config.bundle_state_file);
  }

  /** The bundle every worker serves (or is given at start), undefined until one loads. */
  committed(): Bundle | undefined {
    return this.#committed;
  }

  /** When the workers switched to the committed bundle. */
  committedAt(): Date | undefined {
    return this.#committedAt;
  }

  lastError(): GatehouseError | undefined {
    return this.#lastError;
  }

  describe(): string {
    return describeLocation(this.#location);
  }

  /** Start watching or polling (after the first reload, once the workers run). */
  start(): void {
    const http = this.#location.kind === 'http' ? this.#location.source : undefined;
    this.#stop = keepUpdated(this.#spec, http, this.#config, this.#logger, () => this.reload());
  }

  stop(): void {
    this.#stop?.();
  }

  /** Fetch and (if new) switch the workers; concurrent calls coalesce as in PolicyStore.reload. */
  reload(): Promise<DistributeResult> {
    return this.#reload();
  }

  async #loadOnce(): Promise<DistributeResult> {
    let result: DistributeResult;
    try {
      const bundle = await fetchBundle(this.#location, this.#limits);
      if (bundle === undefined || bundle.digest === this.#committed?.digest) {
        if (bundle !== undefined) this.#lastError = undefined;
        result = { status: 'unchanged', bundle: this.#committed };
      } else {
        checkFreshness(bundle, this.#floor, this.#config.bundle_require_newer_revision, this.#committed !== undefined);
        await this.#switchWorkers(bundle);
        const previous = this.#committed;
        this.#committed = bundle;
        this.#committedAt = new Date();
        this.#floor = { revision: bundle.revision, digest: bundle.digest };
        writeRevisionState(this.#config.bundle_state_file, this.#floor);
        this.#lastError = undefined;
        result = { status: 'loaded', bundle, previous };
      }
    } catch (thrown) {
      const error = toGatehouseError(thrown, 'bundle_invalid');
      this.#lastError = error;
      result = { status: 'failed', error, kept: this.#committed };
    }
    this.#report(result);
    return result;
  }

  #report(result: DistributeResult): void {
    const bundle = this.describe();
    switch (result.status) {
      case 'loaded':
        this.#metrics.recordReload('loaded', result.bundle.revision);
        this.#logger.info({ bundle, revision: result.bundle.revision, previous_revision: result.previous?.revision ?? null }, 'policy bundle activated on every worker');
        return;
      case 'unchanged':
        this.#metrics.recordReload('unchanged');
        this.#logger.debug({ bundle, revision: result.bundle?.revision ?? null }, 'policy bundle unchanged');
        return;
      case 'failed':
        this.#metrics.recordReload('failed');
        this.#logger.error(
          { bundle, code: result.error.code, error: result.error.message, serving_revision: result.kept?.revision ?? null },
          result.kept ? 'policy bundle rejected; the previous revision keeps serving on every worker' : 'policy bundle rejected; no policy loaded, every Check is denied (503)',
        );
    }
  }
}
