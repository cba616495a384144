/**
 * gatehouse's host for OPA's WebAssembly policies: the OPA Wasm ABI v1.2+
 * (https://www.openpolicyagent.org/docs/wasm/): the module's imports (`opa_abort`, `opa_println`,
 * `opa_builtin0..4`), data loading and one-call evaluation through `opa_eval`.
 *
 * Why not opa-wasm's `loadPolicy`: its own JavaScript builtins (sprintf, regex.split, yaml.*) take
 * precedence over the host's and differ from OPA's; it passes builtin arguments and results
 * through JSON, which turns sets into arrays and rounds integers beyond 2^53 (nanosecond times);
 * and `print` output goes to stdout, where the decision log is. Here builtin arguments are read
 * with `opa_value_dump` and results written with `opa_value_parse` (policy/rego-value.ts), every
 * host builtin comes from one catalogue (policy/builtins/catalogue.ts), and a builtin's error makes
 * its result undefined, as OPA does with its default (non-strict) builtin errors.
 */
import type { EvaluationCall } from '../authz/authorize.js';
import { HOST_BUILTIN_FAMILIES, loadHostBuiltins, loadedHostBuiltin, unsupportedReason } from './builtins/catalogue.js';
import type { BuiltinContext, HostBuiltin, RegoValue } from './builtins/types.js';
import { formatRegoValue, parseRegoValue } from './rego-value.js';

const WASM_PAGE = 64 * 1024;


export interface RuntimeOptions {
  /** Upper bound of the policy's linear memory in bytes; an evaluation needing more fails. */
  maxMemoryBytes: number;
  /** Wall clock in ns since the Unix epoch, for `time.now_ns` (read once per evaluation). */
  wallClockNs: () => bigint;
  /** Where `print` output goes (the operational log), with the decision id when known. */
  print: (message: string, decisionId: string | undefined) => void;
  /**
   * The host builtins to offer; default: the catalogue's, as far as their families are loaded in
   * this thread (loadBuiltins) (tests of the ABI bring their own).
   */
  builtins?: ReadonlyMap<string, HostBuiltin>;
}

interface Exports {
  memory?: WebAssembly.Memory;
  opa_malloc(size: number): number;
  opa_heap_ptr_get(): number;
  opa_json_parse(addr: number, len: number): number;
  opa_value_parse(addr: number, len: number): number;
  opa_json_dump(addr: number): number;
  opa_value_dump(addr: number): number;
  opa_eval(reserved: number, entrypoint: number, data: number, input: number, inputLen: number, heapPtr: number, format: number): number;
  builtins(): number;
  entrypoints(): number;
  opa_wasm_abi_version?: WebAssembly.Global | number;
  opa_wasm_abi_minor_version?: WebAssembly.Global | number;
}

const MAX_REPORTED_ERRORS = 3;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The error a policy raised through `opa_abort` (conflicts, out of memory, ...). */
export class PolicyAbort extends Error {
  override name = 'PolicyAbort';
}

/** One instantiated policy module with its data loaded. Not re-entrant: evaluate one input at a time. */
export class OpaWasmInstance {
  readonly entrypoints: Readonly<Record<string, number>>;
  /** The builtins the module imports from its host, by OPA name. */
  readonly importedBuiltins: readonly string[];
  /** The compiled module (evaluation threads instantiate it again). */
  readonly module: WebAssembly.Module;
  readonly #exports: Exports;
  readonly #memory: WebAssembly.Memory;
  readonly #options: RuntimeOptions;
  /** Host builtin implementations indexed by the module's builtin id. */
  #builtins: (HostBuiltin | undefined)[] = [];
  #builtinNames: string[] = [];
  #dataAddr = 0;
  #dataHeapPtr = 0;
  /** The evaluation in progress (builtins are only ever called inside one). */
  #call: EvaluationCall | undefined;
  #context: BuiltinContext | undefined;

  private constructor(module: WebAssembly.Module, options: RuntimeOptions) {
    this.#options = options;
    this.module = module;
    this.#memory = new WebAssembly.Memory({ initial: 5, maximum: Math.max(16, Math.floor(options.maxMemoryBytes / WASM_PAGE)) });
    const instance = new WebAssembly.Instance(module, { env: this.#imports() });
    this.#exports = instance.exports as unknown as Exports;
    const major = globalNumber(this.#exports.opa_wasm_abi_version);
    const minor = globalNumber(this.#exports.opa_wasm_abi_minor_version);
    if (major !== 1 || minor === undefined || minor < 2 || typeof this.#exports.opa_eval !== 'function') {
      throw new Error(`policy.wasm uses OPA Wasm ABI ${major ?? '?'}.${minor ?? '?'}; gatehouse needs 1.2 or later (build it with OPA >= 0.37)`);
    }
    const imported = this.#dumpJson(this.#exports.builtins()) as Record<string, number>;
    this.entrypoints = this.#dumpJson(this.#exports.entrypoints()) as Record<string, number>;
    this.importedBuiltins = Object.keys(imported).sort();
    for (const [name, id] of Object.entries(imported)) {
      this.#builtinNames[id] = name;
      this.#builtins[id] = options.builtins ? options.builtins.get(name) : loadedHostBuiltin(name);
    }
  }

  /**
   * Compile and instantiate policy.wasm and load `data` (JSON text) into it.
   * @throws Error when the module is not an OPA policy, imports a builtin gatehouse does not
   *   provide (the message names each with the reason), or the data does not load.
   */
  static load(wasm: Uint8Array, data: Uint8Array, options: RuntimeOptions): OpaWasmInstance {
    return OpaWasmInstance.instantiate(new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>), data, options);
  }

  /**
   * Like load, from an already compiled module (an evaluation thread gets the module the main
   * thread compiled, through postMessage, instead of compiling policy.wasm again).
   */
  static instantiate(module: WebAssembly.Module, data: Uint8Array, options: RuntimeOptions): OpaWasmInstance {
    const instance = new OpaWasmInstance(module, options);
    const missing = instance.importedBuiltins.filter((name) => !(options.builtins ? options.builtins.has(name) : HOST_BUILTIN_FAMILIES.has(name)));
    if (missing.length > 0) {
      const byReason = new Map<string, string[]>();
      for (const name of missing) byReason.set(unsupportedReason(name), [...(byReason.get(unsupportedReason(name)) ?? []), name]);
      const lines = [...byReason].map(([reason, names]) => `  ${names.join(', ')}: ${reason}`);
      throw new Error(`the policy calls builtins gatehouse cannot evaluate:\n${lines.join('\n')}`);
    }
    instance.#loadData(data);
    return instance;
  }

  /**
   * Load (import) the host builtin families this policy imports, in this thread; evaluate only
   * after it resolved (a builtin whose family is not loaded fails the evaluation, never its result).
   * @throws Error when a family module fails to import.
   */
  async loadBuiltins(): Promise<void> {
    if (this.#options.builtins) return;
    await loadHostBuiltins(this.importedBuiltins);
    for (const [id, name] of this.#builtinNames.entries()) if (name !== undefined) this.#builtins[id] ??= loadedHostBuiltin(name);
  }

  /**
   * Evaluate `entrypoint` for a JSON-serialised input; returns the result set as JSON text
   * (`[]` when undefined, `[{"result": value}]` otherwise), every number exactly as the policy has
   * it (read it with rego-value.ts parseJsonExact). A set in the result is a JSON array in
   * policy.wasm's internal order, as OPA's own Wasm SDK returns it; `opa eval` would sort it.
   * (The Rego value format would keep sets recognisable, but opa_eval takes ~70% longer with it.)
   * @throws PolicyAbort when the policy aborts (e.g. a conflict); RangeError when memory runs out.
   */
  evaluateJson(input: Uint8Array, entrypoint: number, call: EvaluationCall = {}): string {
    const inputAddr = this.#dataHeapPtr;
    const needed = inputAddr + input.byteLength - this.#memory.buffer.byteLength;
    if (needed > 0) this.#memory.grow(Math.ceil(needed / WASM_PAGE));
    new Uint8Array(this.#memory.buffer).set(input, inputAddr);
    this.#call = call;
    this.#context = undefined;
    try {
      const result = this.#exports.opa_eval(0, entrypoint, this.#dataAddr, inputAddr, input.byteLength, inputAddr + input.byteLength, 0);
      return this.#readString(result);
    } finally {
      this.#call = undefined;
      this.#context = undefined;
    }
  }

  #loadData(data: Uint8Array): void {
    const addr = this.#write(data.byteLength > 0 ? data : encoder.encode('{}'));
    const parsed = this.#exports.opa_json_parse(addr.address, addr.length);
    if (parsed === 0) throw new Error('data.json is not valid JSON');
    this.#dataAddr = parsed;
    this.#dataHeapPtr = this.#exports.opa_heap_ptr_get();
  }

  #imports(): Record<string, WebAssembly.ImportValue> {
    const call = (id: number, ...args: number[]) => this.#callBuiltin(id, args);
    return {
      memory: this.#memory,
      opa_abort: (addr: number) => {
        throw new PolicyAbort(this.#readString(addr));
      },
      opa_println: (addr: number) => {
        if (!this.#call?.quiet) this.#options.print(this.#readString(addr), this.#call?.decisionId);
      },
      opa_builtin0: (id: number) => call(id),
      opa_builtin1: (id: number, _ctx: number, a: number) => call(id, a),
      opa_builtin2: (id: number, _ctx: number, a: number, b: number) => call(id, a, b),
      opa_builtin3: (id: number, _ctx: number, a: number, b: number, c: number) => call(id, a, b, c),
      opa_builtin4: (id: number, _ctx: number, a: number, b: number, c: number, d: number) => call(id, a, b, c, d),
    };
  }

  /** Returns the address of the result value, or 0 (undefined) when the builtin has none or fails. */
  #callBuiltin(id: number, argAddrs: number[]): number {
    const name = this.#builtinNames[id] ?? `#${id}`;
    const builtin = (this.#builtins[id] ??= this.#options.builtins ? undefined : loadedHostBuiltin(name));
    if (!builtin && !this.#options.builtins && HOST_BUILTIN_FAMILIES.has(name)) {
      // A programming error (evaluated before loadBuiltins resolved): fail the evaluation (a deny),
      // never hand the policy an undefined result it could read as "no match".
      throw new PolicyAbort(`host builtin ${name} is not loaded in this thread (OpaWasmInstance.loadBuiltins was not awaited)`);
    }
    let result: RegoValue | undefined;
    try {
      if (!builtin) throw new Error('not provided by gatehouse');
      const texts = argAddrs.map((addr) => this.#readString(this.#exports.opa_value_dump(addr)));
      result = builtin.fnText ? builtin.fnText(this.#builtinContext(), ...texts) : builtin.fn(this.#builtinContext(), ...texts.map(parseRegoValue));
      if (result === undefined) return 0;
      const text = this.#write(encoder.encode(formatRegoValue(result)));
      const value = this.#exports.opa_value_parse(text.address, text.length);
      if (value === 0) throw new Error('its result could not be handed back to the policy');
      return value;
    } catch (error) {
      // The policy itself failing (out of memory inside opa_malloc) ends the evaluation.
      if (error instanceof PolicyAbort || error instanceof RangeError) throw error;
      const call = this.#call;
      if (call) {
        const text = error instanceof Error ? error.message : String(error);
        const message = text.startsWith(`${name}: `) ? text : `${name}: ${text}`;
        (call.builtinErrors ??= []).length < MAX_REPORTED_ERRORS && call.builtinErrors.push(message);
      }
      return 0;
    }
  }

  /** The context of the evaluation in progress, made on the first builtin call that needs it. */
  #builtinContext(): BuiltinContext {
    if (this.#context) return this.#context;
    const call = this.#call ?? {};
    const options = this.#options;
    let now: bigint | undefined;
    let memo: Map<string, RegoValue> | undefined;
    this.#context = {
      nowNs: () => (now ??= options.wallClockNs()),
      get memo() {
        return (memo ??= new Map());
      },
      print: (message) => {
        if (!call.quiet) options.print(message, call.decisionId);
      },
      validUntilNs: (ns) => {
        if (call.validUntilNs === undefined || ns < call.validUntilNs) call.validUntilNs = ns;
      },
    };
    return this.#context;
  }

  #write(bytes: Uint8Array): { address: number; length: number } {
    const address = this.#exports.opa_malloc(bytes.byteLength);
    new Uint8Array(this.#memory.buffer).set(bytes, address);
    return { address, length: bytes.byteLength };
  }

  #readString(address: number): string {
    const memory = new Uint8Array(this.#memory.buffer);
    const end = memory.indexOf(0, address);
    return decoder.decode(memory.subarray(address, end < 0 ? memory.length : end));
  }

  #dumpJson(address: number): unknown {
    return JSON.parse(this.#readString(this.#exports.opa_json_dump(address)));
  }
}

function globalNumber(value: WebAssembly.Global | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'number' ? value : (value.value as number);
}
