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
}

export type { EvaluationCall };

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

  private constructor(bundle: Bundle, instance: OpaWasmInstance, entrypoint: string, entrypointId: number, cachePlan: CachePlan) {
    this.revision = bundle.revision;
    this.bundle = bundle.source;
    this.digest = bundle.digest;
    this.cachePlan = cachePlan;
    this.entrypoint = entrypoint;
    this.loadedAt = new Date();
    this.hostBuiltins = instance.importedBuiltins;
    this.#instance = instance;
    this.#entrypointId = entrypointId;
  }

  static async load(bundle: Bundle, options: EvaluatorOptions): Promise<WasmPolicy> {
    let instance: OpaWasmInstance;
    try {
      instance = OpaWasmInstance.load(bundle.wasm, bundle.dataJson, {
        maxMemoryBytes: options.maxMemoryBytes,
        wallClockNs: options.wallClockNs ?? systemClockNs,
        print: options.print ?? printToStderr,
      });
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
    return new WasmPolicy(bundle, instance, options.entrypoint, entrypointId, planCache(bundle.cacheAnalysis, options.cache));
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

function bytesOf(input: ArrayBuffer | Uint8Array): Uint8Array {
  return input instanceof Uint8Array ? input : new Uint8Array(input);
}
