/**
 * A compiled policy, ready to evaluate: opa-wasm's LoadedPolicy with the bundle's data set, the
 * entrypoint resolved to its numeric id once, and the builtins it needs checked against what the
 * JavaScript host provides (OPA Wasm ABI: https://www.openpolicyagent.org/docs/wasm/).
 * Everything that can fail, fails here at load time, so a bad bundle is never activated.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import type { EvaluablePolicy } from '../authz/authorize.js';
import { GatehouseError, describeThrown } from '../errors.js';
import { planCache, type CachePlan, type CacheSettings } from '../cache/plan.js';
import type { Bundle } from './bundle.js';

export interface EvaluatorOptions {
  entrypoint: string;
  cache: CacheSettings;
  /** Upper bound of the policy's linear memory; evaluation that needs more fails (→ deny). */
  maxMemoryBytes: number;
}

const WASM_PAGE = 64 * 1024;

/** Builtins opa-wasm supports (natively in Wasm or in its JavaScript host), from its capabilities file. */
export const SUPPORTED_BUILTINS: ReadonlySet<string> = (() => {
  const require = createRequire(import.meta.url);
  // Not in the package's exports map; it sits beside src/ in the package root.
  const file = path.join(path.dirname(require.resolve('@open-policy-agent/opa-wasm')), '..', 'capabilities.json');
  const capabilities = JSON.parse(readFileSync(file, 'utf8')) as { builtins: { name: string }[] };
  return new Set(capabilities.builtins.map((b) => b.name));
})();

export class WasmPolicy implements EvaluablePolicy {
  readonly revision: string;
  readonly bundle: string;
  readonly digest: string;
  readonly cachePlan: CachePlan;
  readonly entrypoint: string;
  readonly loadedAt: Date;
  readonly #policy: LoadedPolicy;
  readonly #entrypointId: number;

  private constructor(bundle: Bundle, policy: LoadedPolicy, entrypoint: string, entrypointId: number, cachePlan: CachePlan) {
    this.revision = bundle.revision;
    this.bundle = bundle.source;
    this.digest = bundle.digest;
    this.cachePlan = cachePlan;
    this.entrypoint = entrypoint;
    this.loadedAt = new Date();
    this.#policy = policy;
    this.#entrypointId = entrypointId;
  }

  static async load(bundle: Bundle, options: EvaluatorOptions): Promise<WasmPolicy> {
    let policy: LoadedPolicy;
    try {
      policy = await loadPolicy(bundle.wasm, { initial: 5, maximum: Math.max(16, Math.floor(options.maxMemoryBytes / WASM_PAGE)) });
    } catch (error) {
      throw new GatehouseError('bundle_invalid', `policy.wasm does not load: ${describeThrown(error)}`, { cause: error });
    }
    const entrypoints = policy.entrypoints as Record<string, number>;
    const entrypointId = Object.prototype.hasOwnProperty.call(entrypoints, options.entrypoint)
      ? entrypoints[options.entrypoint]
      : undefined;
    if (entrypointId === undefined) {
      const known = Object.keys(entrypoints).join(', ') || 'none';
      throw new GatehouseError(
        'bundle_invalid',
        `bundle does not define entrypoint "${options.entrypoint}" (it defines: ${known}); build with "opa build -t wasm -e ${options.entrypoint}" or set entrypoint`,
      );
    }
    const missing = requiredBuiltins(policy).filter((name) => !SUPPORTED_BUILTINS.has(name));
    if (missing.length > 0) {
      throw new GatehouseError(
        'bundle_invalid',
        `policy calls builtins that Wasm evaluation does not provide: ${missing.join(', ')}; remove those calls from the policy`,
      );
    }
    try {
      policy.setData(bundle.data);
    } catch (error) {
      throw new GatehouseError('bundle_invalid', `data.json does not load into the policy: ${describeThrown(error)}`, { cause: error });
    }
    return new WasmPolicy(bundle, policy, options.entrypoint, entrypointId, planCache(bundle.cacheAnalysis, options.cache));
  }

  evaluate(input: ArrayBuffer): unknown {
    return this.#policy.evaluate(input, this.#entrypointId);
  }
}

/**
 * The builtins the module imports from its host: the `builtins` export returns the address of a
 * JSON object {name: id}, which `opa_json_dump` serialises to a NUL-terminated string.
 */
function requiredBuiltins(policy: LoadedPolicy): string[] {
  const instance = (policy.wasmInstance as WebAssembly.Instance).exports as Record<string, unknown>;
  const builtinsFn = instance.builtins as (() => number) | undefined;
  const dump = instance.opa_json_dump as ((addr: number) => number) | undefined;
  if (!builtinsFn || !dump) return [];
  const address = dump(builtinsFn());
  const memory = new Uint8Array(policy.mem.buffer);
  let end = address;
  while (end < memory.length && memory[end] !== 0) end++;
  const json = JSON.parse(Buffer.from(memory.subarray(address, end)).toString('utf8')) as Record<string, number>;
  return Object.keys(json);
}
