/**
 * The shapes shared by every host builtin: the Rego values they take and return, the per-evaluation
 * context, and the one error type. A host builtin is a synchronous function that OPA's Wasm target
 * leaves to the host (OPA Wasm ABI, `opa_builtin0..4`: https://www.openpolicyagent.org/docs/wasm/);
 * gatehouse's runtime (policy/wasm-runtime.ts) calls it with the arguments read from the policy's
 * memory and writes its result back.
 */

/**
 * A Rego value as host builtins see it (decoded by policy/rego-value.ts):
 * - numbers are JS numbers, except integers beyond ±2^53, which are `bigint` (time in ns);
 * - sets are JS `Set`s (iteration order is the policy's; never rely on identity for membership);
 * - objects with string keys are plain objects with a null prototype (`__proto__` is a key like
 *   any other: read with `Object.hasOwn`/index, never with `in`);
 * - objects with a non-string key are `Map`s.
 */
export type RegoValue = null | boolean | number | bigint | string | RegoValue[] | RegoSet | RegoObject | RegoMap;
export type RegoSet = Set<RegoValue>;
export type RegoMap = Map<RegoValue, RegoValue>;
export interface RegoObject {
  [key: string]: RegoValue;
}

/** What one evaluation gives its builtins. A fresh context per evaluation. */
export interface BuiltinContext {
  /**
   * The evaluation's `time.now_ns()`, in nanoseconds since the Unix epoch: read once, on first use,
   * and the same for every call in this evaluation, as OPA does.
   */
  nowNs(): bigint;
  /**
   * Per-evaluation memo for builtins OPA memoises (`rand.intn`, `uuid.rfc4122`): the same key gives
   * the same value within one evaluation.
   */
  memo: Map<string, RegoValue>;
  /** `print` output: goes to the operational log with the decision id. */
  print(message: string): void;
  /**
   * Lower the time (ns since the epoch) after which this evaluation's result may no longer be
   * reused; `io.jwt.decode_verify` calls it with a token's `exp`, so a cached allow never outlives
   * the token.
   */
  validUntilNs(ns: bigint): void;
}

/**
 * A host builtin. `fn` receives the context and the arguments (already decoded); it returns the
 * result, or `undefined` when the result is undefined. It throws `BuiltinError` for what OPA reports
 * as a builtin error: with OPA's default (non-strict) builtin errors, the runtime turns any throw
 * into an undefined result, exactly as `opa eval` does.
 */
export interface HostBuiltin {
  fn: (ctx: BuiltinContext, ...args: RegoValue[]) => RegoValue | undefined;
  /**
   * Instead of `fn`, for the few builtins whose result depends on how a number was written (OPA
   * passes `1.0` to sprintf as a float64, `1` as an int64): the arguments as the policy holds them,
   * in the Rego value format of `opa_value_dump` (rego-value.ts parseRegoValue decodes one).
   */
  fnText?: (ctx: BuiltinContext, ...args: string[]) => RegoValue | undefined;
  /**
   * Reads the clock, randomness or the environment (OPA's `nondeterministic` flag): a policy
   * calling it is not cached unless the operator sets decision_cache_nondeterministic_ttl_ms.
   */
  nondeterministic?: boolean;
  /** A semantic note for docs/policies.md, where gatehouse's result could surprise a policy author. */
  note?: string;
}

/** A family of host builtins (one file each in this folder): builtin name → implementation. */
export type BuiltinFamily = Readonly<Record<string, HostBuiltin>>;

/** An error raised by a builtin (OPA: `eval_builtin_error`). */
export class BuiltinError extends Error {
  constructor(builtin: string, message: string) {
    super(`${builtin}: ${message}`);
    this.name = 'BuiltinError';
  }
}

/**
 * For a builtin's own catch blocks: the JavaScript engine running out of stack or memory
 * (RangeError, e.g. a 3000-deep GraphQL query) is not an answer the builtin may turn into `false`
 * or undefined (a deny rule could then fail open): it must end the evaluation, which the runtime
 * turns into a deny (eval_error).
 */
export function rethrowExhaustion(error: unknown): void {
  if (error instanceof RangeError) throw error;
}
