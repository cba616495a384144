/**
 * A cluster worker's end of the bundle hand-over: the primary owns the bundle source (file watch,
 * HTTP poll, signature check, replay protection) and sends each new bundle's contents; the worker's
 * PolicyStore loads it and runs its activation gate (prepare), answers ok or refused, and switches
 * only when the primary commits, so every worker serves the same revision.
 */
import { toGatehouseError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Bundle } from '../policy/bundle.js';
import type { WasmPolicy } from '../policy/evaluator.js';
import type { BundleFeed } from '../policy/policy-source.js';
import type { PolicyStore } from '../policy/policy-store.js';
import type { PrimaryMessage, WorkerMessage } from './messages.js';

export class WorkerBundleFeed implements BundleFeed {
  #current: Bundle | undefined;
  #store: PolicyStore | undefined;
  /** Prepared policies by round, until commit or abort. */
  readonly #prepared = new Map<number, { policy: WasmPolicy; bundle: Bundle }>();
  readonly #send: (message: WorkerMessage) => void;
  readonly #logger: Logger;
  readonly #onActivated: () => void;

  /** `onActivated`: after each commit (the worker tells the primary its new state). */
  constructor(initial: Bundle | undefined, send: (message: WorkerMessage) => void, logger: Logger, onActivated: () => void) {
    this.#current = initial;
    this.#send = send;
    this.#logger = logger;
    this.#onActivated = onActivated;
  }

  current(): Bundle | undefined {
    return this.#current;
  }

  attach(store: PolicyStore): void {
    this.#store = store;
  }

  detach(): void {
    this.#store = undefined;
    this.#prepared.clear();
  }

  /** Handles the bundle messages; false for any other message. */
  handle(message: PrimaryMessage): boolean {
    switch (message.gatehouse) {
      case 'bundle-prepare':
        void this.#prepare(message.round, message.bundle);
        return true;
      case 'bundle-commit': {
        const prepared = this.#prepared.get(message.round);
        this.#prepared.delete(message.round);
        if (prepared && this.#store) {
          this.#store.commit(prepared.policy);
          this.#current = prepared.bundle;
          this.#onActivated();
        }
        return true;
      }
      case 'bundle-abort':
        this.#prepared.delete(message.round);
        return true;
      case 'bundle-activate':
        void this.#activate(message.bundle);
        return true;
      default:
        return false;
    }
  }

  async #prepare(round: number, bundle: Bundle): Promise<void> {
    const store = this.#store;
    if (!store) {
      this.#send({ gatehouse: 'bundle-prepared', round, ok: false, code: 'policy_not_loaded', message: 'worker is not serving' });
      return;
    }
    try {
      this.#prepared.set(round, { policy: await store.prepare(bundle), bundle });
      this.#send({ gatehouse: 'bundle-prepared', round, ok: true });
    } catch (thrown) {
      const error = toGatehouseError(thrown, 'bundle_invalid');
      this.#send({ gatehouse: 'bundle-prepared', round, ok: false, code: error.code, message: error.message });
    }
  }

  /** A worker that started on an older bundle than the one committed meanwhile catches up. */
  async #activate(bundle: Bundle): Promise<void> {
    const store = this.#store;
    if (!store) return;
    try {
      store.commit(await store.prepare(bundle));
      this.#current = bundle;
      this.#onActivated();
    } catch (thrown) {
      this.#logger.error({ revision: bundle.revision, error: toGatehouseError(thrown, 'bundle_invalid').message }, 'this worker cannot load the revision the other workers serve');
    }
  }
}
