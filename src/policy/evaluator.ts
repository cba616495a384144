/**
 * A compiled policy, ready to evaluate: the module instantiated by gatehouse's Wasm runtime with
 * the bundle's data loaded, the entrypoint resolved to its numeric id once, and every builtin it
 * imports checked against the catalogue of host builtins (OPA Wasm ABI:
 * https://www.openpolicyagent.org/docs/wasm/). Everything that can fail, fails here at load time,
 * so a bad bundle is never activated.
 */
import type { EvaluablePolicy, EvaluationCall } from '../authz/authorize.js';
import { GatehouseError, describeThrown } from '../errors.js';
import { planCache, type CachePlan, type CacheSettings } from '../cache/plan.js';
import type { Bundle } from './bundle.js';
import { EvalThreads, type ThreadPolicy } from './eval-threads.js';
import { OpaWasmInstance } from './wasm-runtime.js';

export interface EvaluatorOptions {
  entrypoint: string;
  cache: CacheSettings;
  /** Upper bound of the policy's linear memory; evaluation that needs more fails (→ deny). */
  maxMemoryBytes: number;
  /** Where the policy's `print` output goes; default: stderr. */
  print?: (message: string, decisionId: string | undefined) => void;
  /** Wall clock for `time.now_ns`, ns since the Unix epoch; default: the system clock. */
  wallClockNs?: () => bigint;
  /**
   * Evaluate on these threads, under their deadline (eval_timeout_ms), instead of inline: the
   * policy is also loaded there, and `evaluateOffThread` is available. Time builtins read the
   * system clock there (`wallClockNs` applies only inline).
   */
  evalThreads?: EvalThreads;
}

export type { EvaluationCall };

interface OffThread {
  pool: EvalThreads;
  policy: ThreadPolicy;
  print: NonNullable<EvaluatorOptions['print']>;
}

/** The system clock in ns since the Unix epoch (ms precision from Date, ns from the monotonic clock). */
export function systemClockNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
}

function printToStderr(message: string, decisionId: string | undefined): void {
  process.stderr.write(`${decisionId ? `[${decisionId}] ` : ''}${message}\n`);
}

export class WasmPolicy implements EvaluablePolicy {
  readonly revision: string;
  readonly bundle: string;
  readonly digest: string;
  readonly cachePlan: CachePlan;
  readonly entrypoint: string;
  readonly loadedAt: Date;
  /** The host builtins this policy calls (for `gatehouse check` and the logs). */
  readonly hostBuiltins: readonly string[];
  readonly #instance: OpaWasmInstance;
  readonly #entrypointId: number;
  readonly #threads: OffThread | undefined;

  private constructor(
    bundle: Bundle,
    instance: OpaWasmInstance,
    entrypoint: string,
    entrypointId: number,
    cachePlan: CachePlan,
    threads: OffThread | undefined,
  ) {
    this.revision = bundle.revision;
    this.bundle = bundle.source;
    this.digest = bundle.digest;
    this.cachePlan = cachePlan;
    this.entrypoint = entrypoint;
    this.loadedAt = new Date();
    this.hostBuiltins = instance.importedBuiltins;
    this.#instance = instance;
    this.#entrypointId = entrypointId;
    this.#threads = threads;
    if (threads) releaseWhenCollected.register(this, { pool: threads.pool, id: threads.policy.id }, this);
  }

  static async load(bundle: Bundle, options: EvaluatorOptions): Promise<WasmPolicy> {
    let instance: OpaWasmInstance;
    try {
      instance = OpaWasmInstance.load(bundle.wasm, bundle.dataJson, {
        maxMemoryBytes: options.maxMemoryBytes,
        wallClockNs: options.wallClockNs ?? systemClockNs,
        print: options.print ?? printToStderr,
      });
      // Only the host builtin families this policy imports are loaded (catalogue.ts).
      await instance.loadBuiltins();
    } catch (error) {
      throw new GatehouseError('bundle_invalid', `policy.wasm does not load: ${describeThrown(error)}`, { cause: error });
    }
    const entrypoints = instance.entrypoints;
    const entrypointId = Object.prototype.hasOwnProperty.call(entrypoints, options.entrypoint)
      ? entrypoints[options.entrypoint]
      : undefined;
    if (entrypointId === undefined) {
      const known = Object.keys(entrypoints).join(', ') || 'none';
      throw new GatehouseError(
        'bundle_invalid',
        `bundle does not define entrypoint "${options.entrypoint}" (it defines: ${known}); build with "gatehouse build --entrypoint ${options.entrypoint}" or set entrypoint`,
      );
    }
    let threads: OffThread | undefined;
    if (options.evalThreads) {
      const policy: ThreadPolicy = {
        id: EvalThreads.nextPolicyId(),
        module: instance.module,
        data: bundle.dataJson,
        entrypoint: entrypointId,
        maxMemoryBytes: options.maxMemoryBytes,
      };
      try {
        await options.evalThreads.prepare(policy);
      } catch (error) {
        options.evalThreads.release(policy.id);
        throw new GatehouseError('bundle_invalid', `policy.wasm does not load in the evaluation thread: ${describeThrown(error)}`, { cause: error });
      }
      threads = { pool: options.evalThreads, policy, print: options.print ?? printToStderr };
    }
    return new WasmPolicy(bundle, instance, options.entrypoint, entrypointId, planCache(bundle.cacheAnalysis, options.cache), threads);
  }

  /**
   * Frees this policy's instances in the evaluation threads now (otherwise that happens once the
   * policy is garbage-collected). Evaluating it off-thread afterwards loads it again.
   */
  releaseThreads(): void {
    const threads = this.#threads;
    if (!threads) return;
    threads.pool.release(threads.policy.id);
    releaseWhenCollected.unregister(this);
  }

  /** True when evaluateOffThread is available (loaded with evalThreads). */
  get offThread(): boolean {
    return this.#threads !== undefined;
  }

  /**
   * The result set (see evaluate), computed on the evaluation thread under its deadline. The
   * policy's print lines, builtin errors and validUntilNs come back into `call`.
   * @throws GatehouseError eval_timeout past the deadline; Error when the policy fails (as evaluate).
   */
  async evaluateOffThread(inputJson: string, call: EvaluationCall = {}): Promise<unknown> {
    return this.evaluateOn(this.#threads?.pool, inputJson, call);
  }

  /**
   * Loads this policy into another pool of evaluation threads (the activation gate's own thread),
   * so evaluateOn(pool) runs there and never on the threads that serve Checks.
   * @throws Error when the policy was not loaded with evalThreads, or does not load in `pool`.
   */
  async prepareOn(pool: EvalThreads): Promise<void> {
    if (!this.#threads) throw new Error('the policy was not loaded for evaluation threads');
    await pool.prepare(this.#threads.policy);
  }

  /** As evaluateOffThread, on `pool` (after prepareOn(pool)); inline when `pool` is undefined or the policy has no thread form. */
  async evaluateOn(pool: EvalThreads | undefined, inputJson: string, call: EvaluationCall = {}): Promise<unknown> {
    const threads = this.#threads;
    if (!threads || !pool) return this.evaluate(new TextEncoder().encode(inputJson), call);
    const result = await pool.evaluate(threads.policy, { policy: threads.policy.id, input: inputJson, decisionId: call.decisionId, quiet: call.quiet }, call);
    if (!call.quiet) for (const line of result.prints ?? []) threads.print(line, call.decisionId);
    if (result.builtinErrors) call.builtinErrors = result.builtinErrors;
    if (result.validUntilNs !== undefined) call.validUntilNs = result.validUntilNs;
    if (result.error !== undefined || result.json === undefined) throw new Error(result.error ?? 'the evaluation thread returned no result');
    return JSON.parse(result.json);
  }

  /** The result set (see EvaluablePolicy.evaluate), numbers as JSON.parse reads them. */
  evaluate(input: ArrayBuffer | Uint8Array, call?: EvaluationCall): unknown {
    return JSON.parse(this.#instance.evaluateJson(bytesOf(input), this.#entrypointId, call));
  }

  /** The result set as JSON text, every number exactly as the policy computed it (rego-value.ts parseJsonExact reads it). */
  evaluateJson(input: ArrayBuffer | Uint8Array, call?: EvaluationCall): string {
    return this.#instance.evaluateJson(bytesOf(input), this.#entrypointId, call);
  }
}

/** A replaced policy's instance in the evaluation threads is freed once nothing refers to the policy. */
const releaseWhenCollected = new FinalizationRegistry<{ pool: EvalThreads; id: number }>(({ pool, id }) => pool.release(id));

function bytesOf(input: ArrayBuffer | Uint8Array): Uint8Array {
  return input instanceof Uint8Array ? input : new Uint8Array(input);
}
