/**
 * The active policy and its replacement. A new bundle is fetched, verified, compiled, its
 * entrypoint resolved and its builtins checked beside the running policy; only then is it
 * published, with one assignment. Any failure leaves the running policy in place (last known
 * good) and is reported.
 */
import { coalesced } from './coalesce.js';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { GatehouseError, toGatehouseError } from '../errors.js';
import { bundleFromArchive, readBundle, type Bundle, type BundleLimits } from './bundle.js';
import type { WasmPolicy, EvaluatorOptions } from './evaluator.js';
import type { HttpBundleSource } from './http-source.js';

export type LoadResult =
  | { status: 'loaded'; policy: WasmPolicy; previous: WasmPolicy | undefined }
  | { status: 'unchanged'; policy: WasmPolicy | undefined }
  | { status: 'failed'; error: GatehouseError; kept: WasmPolicy | undefined };

/**
 * Where bundles come from: a local file or directory, an HTTP(S) bundle server, or (in a cluster
 * worker) whatever the primary handed over: `current()` is the bundle the primary committed last,
 * and later ones arrive through prepare()/commit() (src/cluster/bundle-feed.ts).
 */
export type BundleLocation =
  | { kind: 'file'; path: string }
  | { kind: 'http'; source: HttpBundleSource }
  | { kind: 'pushed'; name: string; current: () => Bundle | undefined };

export interface PolicyStoreOptions extends EvaluatorOptions, BundleLimits {
  location: BundleLocation;
  /** Refuse a bundle whose revision is older than the active one (replay protection). */
  requireNewerRevision: boolean;
  /** Where the last activated revision is recorded, so replay protection survives restarts. */
  revisionStateFile?: string;
  /**
   * Called with a loaded replacement before it becomes active (not for the first bundle); throws
   * to refuse it, keeping the active one (policy/activation-gate.ts).
   */
  gate?: (candidate: WasmPolicy, active: WasmPolicy) => Promise<void>;
}

/** The last revision activated and its digest (replay protection; bundle_state_file). */
export interface Activated {
  revision: string;
  digest: string;
}

export interface PolicyListener {
  (result: LoadResult): void;
}

export class PolicyStore {
  #active: WasmPolicy | undefined;
  #lastError: GatehouseError | undefined;
  readonly #reload = coalesced(() => this.#loadOnce());
  readonly #options: PolicyStoreOptions;
  readonly #listeners: PolicyListener[] = [];

  /** The last revision activated, by this process or (from the state file) an earlier one. */
  #floor: Activated | undefined;

  constructor(options: PolicyStoreOptions) {
    this.#options = options;
    this.#floor = readRevisionState(options.revisionStateFile);
  }

  /** The policy that answers Checks now (undefined until a first bundle loads). */
  current(): WasmPolicy | undefined {
    return this.#active;
  }

  lastError(): GatehouseError | undefined {
    return this.#lastError;
  }

  describe(): string {
    return describeLocation(this.#options.location);
  }

  onLoad(listener: PolicyListener): void {
    this.#listeners.push(listener);
  }

  /**
   * Fetch and activate the bundle. Concurrent calls are coalesced: while a load runs, one more is
   * queued to pick up whatever changed meanwhile.
   */
  reload(): Promise<LoadResult> {
    return this.#reload();
  }

  async #loadOnce(): Promise<LoadResult> {
    let result: LoadResult;
    try {
      const bundle = await fetchBundle(this.#options.location, this.#options);
      if (bundle === undefined || bundle.digest === this.#active?.digest) {
        // The active bundle put back in place clears a previous error; an HTTP 304 does not (the
        // server may still hold the bundle that was rejected).
        if (bundle !== undefined) this.#lastError = undefined;
        result = { status: 'unchanged', policy: this.#active };
      } else {
        result = this.#activate(await this.prepare(bundle));
        return result;
      }
    } catch (thrown) {
      result = this.#failed(thrown);
    }
    this.#notify(result);
    return result;
  }

  /**
   * The first half of an activation, for a bundle already in hand (a cluster worker's, from its
   * primary): freshness checked, policy loaded, activation gate run; nothing is swapped. Throws
   * GatehouseError when the bundle is refused. Listeners are not told: a refusal is the caller's to
   * report.
   */
  async prepare(bundle: Bundle): Promise<WasmPolicy> {
    checkFreshness(bundle, this.#floor, this.#options.requireNewerRevision, this.#active !== undefined);
    // Loaded on first use: a process that only fetches and checks bundles (the cluster primary)
    // never loads the Wasm runtime and its builtins.
    const { WasmPolicy } = await import('./evaluator.js');
    const policy = await WasmPolicy.load(bundle, this.#options);
    const previous = this.#active;
    if (previous && this.#options.gate) await this.#options.gate(policy, previous);
    return policy;
  }

  /** The second half: `policy` (from prepare()) answers Checks from now on; listeners are told. */
  commit(policy: WasmPolicy): LoadResult {
    return this.#activate(policy);
  }

  #activate(policy: WasmPolicy): LoadResult {
    const previous = this.#active;
    this.#active = policy; // the swap: Checks from here on see the new policy
    this.#floor = { revision: policy.revision, digest: policy.digest };
    writeRevisionState(this.#options.revisionStateFile, this.#floor);
    this.#lastError = undefined;
    const result: LoadResult = { status: 'loaded', policy, previous };
    this.#notify(result);
    return result;
  }

  #failed(thrown: unknown): LoadResult {
    const error = toGatehouseError(thrown, 'bundle_invalid');
    this.#lastError = error;
    return { status: 'failed', error, kept: this.#active };
  }

  #notify(result: LoadResult): void {
    for (const listener of this.#listeners) {
      try {
        listener(result);
      } catch {
        // A listener (logging, metrics) must not turn a reload into an unhandled rejection.
      }
    }
  }
}

/** The location for logs: a path or URL. */
export function describeLocation(location: BundleLocation): string {
  return location.kind === 'file' ? location.path : location.kind === 'http' ? location.source.url : location.name;
}

/**
 * The bundle at the location, verified, or undefined when an HTTP server says it has not changed
 * (or a pushed location has none yet). Throws GatehouseError (bundle_read_error, bundle_invalid).
 */
export async function fetchBundle(location: BundleLocation, limits: BundleLimits): Promise<Bundle | undefined> {
  if (location.kind === 'file') return readBundle(location.path, limits);
  if (location.kind === 'pushed') return location.current();
  const fetched = await location.source.fetch();
  if (fetched.status === 'unchanged') return undefined;
  // Whatever happens to these bytes (activated or rejected), do not download them again.
  location.source.acknowledge(fetched.etag);
  return bundleFromArchive(location.source.url, fetched.bytes, limits);
}

/**
 * Replay protection (bundle_require_newer_revision): throws GatehouseError('bundle_invalid') when
 * `bundle` is older than `floor`, or has its revision with other contents. `active`: whether the
 * floor is the active bundle's (else it came from bundle_state_file), for the message.
 */
export function checkFreshness(bundle: Bundle, floor: Activated | undefined, requireNewerRevision: boolean, active: boolean): void {
  if (!requireNewerRevision || !floor) return;
  const which = active ? 'the active revision' : 'the last revision activated (bundle_state_file)';
  const order = compareRevisions(bundle.revision, floor.revision);
  if (order < 0) {
    throw new GatehouseError(
      'bundle_invalid',
      `bundle revision "${bundle.revision}" is older than ${which} "${floor.revision}" (bundle_require_newer_revision is on: a replayed bundle)`,
    );
  }
  if (order === 0 && bundle.digest !== floor.digest) {
    throw new GatehouseError('bundle_invalid', `bundle has ${which} "${floor.revision}" but different contents; give every new bundle a new revision`);
  }
}

/** The record bundle_state_file holds; undefined without a file. Throws GatehouseError('config_invalid') on an unreadable one. */
export function readRevisionState(file: string | undefined): Activated | undefined {
  if (!file || !existsSync(file)) return undefined;
  try {
    const state = JSON.parse(readFileSync(file, 'utf8')) as Partial<Activated>;
    if (typeof state.revision === 'string' && typeof state.digest === 'string') return { revision: state.revision, digest: state.digest };
  } catch {
    // Unreadable state: fall through to the error below.
  }
  throw new GatehouseError('config_invalid', `bundle_state_file ${file} is not a gatehouse revision record; fix or remove it`);
}

/** Written beside and renamed into place, so a crash never leaves half a record. */
export function writeRevisionState(file: string | undefined, state: Activated): void {
  if (!file) return;
  try {
    writeFileSync(`${file}.tmp`, `${JSON.stringify(state)}\n`);
    renameSync(`${file}.tmp`, file);
  } catch {
    // The bundle is active either way; replay protection across a restart is what is lost.
  }
}

/**
 * Orders revisions: numerically when both are decimal integers, else as strings (so ISO 8601
 * timestamps and zero-padded counters order correctly).
 */
export function compareRevisions(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
