/**
 * The active policy and its replacement. A new bundle is read, compiled, its entrypoint resolved
 * and its builtins checked beside the running policy; only then is it published, with one
 * assignment. Any failure leaves the running policy in place (last known good) and is reported.
 */
import { GatehouseError, toGatehouseError } from '../errors.js';
import { readBundle, type BundleLimits } from './bundle.js';
import { WasmPolicy, type EvaluatorOptions } from './evaluator.js';

export type LoadResult =
  | { status: 'loaded'; policy: WasmPolicy; previous: WasmPolicy | undefined }
  | { status: 'unchanged'; policy: WasmPolicy }
  | { status: 'failed'; error: GatehouseError; kept: WasmPolicy | undefined };

export interface PolicyStoreOptions extends EvaluatorOptions, BundleLimits {
  bundlePath: string;
}

export interface PolicyListener {
  (result: LoadResult): void;
}

export class PolicyStore {
  #active: WasmPolicy | undefined;
  #activeDigest: string | undefined;
  #lastError: GatehouseError | undefined;
  #loading: Promise<LoadResult> | undefined;
  #pending = false;
  readonly #options: PolicyStoreOptions;
  readonly #listeners: PolicyListener[] = [];

  constructor(options: PolicyStoreOptions) {
    this.#options = options;
  }

  /** The policy that answers Checks now (undefined until a first bundle loads). */
  current(): WasmPolicy | undefined {
    return this.#active;
  }

  lastError(): GatehouseError | undefined {
    return this.#lastError;
  }

  onLoad(listener: PolicyListener): void {
    this.#listeners.push(listener);
  }

  /**
   * Read and activate the bundle. Concurrent calls are coalesced: while a load runs, one more is
   * queued to pick up whatever changed meanwhile.
   */
  reload(): Promise<LoadResult> {
    if (this.#loading) {
      this.#pending = true;
      return this.#loading;
    }
    this.#loading = this.#loadOnce().finally(() => {
      this.#loading = undefined;
      if (this.#pending) {
        this.#pending = false;
        void this.reload();
      }
    });
    return this.#loading;
  }

  async #loadOnce(): Promise<LoadResult> {
    let result: LoadResult;
    try {
      const bundle = await readBundle(this.#options.bundlePath, this.#options);
      if (this.#active && bundle.digest === this.#activeDigest) {
        result = { status: 'unchanged', policy: this.#active };
      } else {
        const policy = await WasmPolicy.load(bundle, this.#options);
        const previous = this.#active;
        this.#active = policy; // the swap: Checks from here on see the new policy
        this.#activeDigest = bundle.digest;
        this.#lastError = undefined;
        result = { status: 'loaded', policy, previous };
      }
    } catch (thrown) {
      const error = toGatehouseError(thrown, 'bundle_invalid');
      this.#lastError = error;
      result = { status: 'failed', error, kept: this.#active };
    }
    for (const listener of this.#listeners) listener(result);
    return result;
  }
}
