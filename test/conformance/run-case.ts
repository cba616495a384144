/**
 * One conformance case through serve's path (a bundle from its files → WasmPolicy.load →
 * evaluate), judged the way OPA's own Wasm e2e test judges it
 * (internal/wasm/sdk/test/e2e/external_test.go in the OPA module):
 * - want_defined: no error, and a non-empty result set exactly when true;
 * - want_result: no error, and the same result set, rows unordered; with sort_bindings, array
 *   bindings compared sorted (they stand for sets);
 * - want_error / want_error_code: when the error needs strict builtin errors (strict_error, which
 *   the Wasm target does not have) an empty result set; otherwise an eval_conflict_error, whose
 *   message names the conflict (every such case in v1.19.1's set wants that code).
 * A failing case also gets a `blame`, the builtin or mechanism most likely at fault, for report.mjs.
 */
import type { EvaluationCall } from '../../src/authz/authorize.js';
import { builtinSupport } from '../../src/policy/builtins/catalogue.js';
import { fromFiles } from '../../src/policy/bundle.js';
import { WasmPolicy } from '../../src/policy/evaluator.js';
import type { RegoValue } from '../../src/policy/builtins/types.js';
import { formatRegoValue, parseJsonExact, parseRegoValue } from '../../src/policy/rego-value.js';
import type { ConformanceCase } from './cases.js';
import { canonical, sameResultSet } from './result-set.js';

export interface CaseOutcome {
  name: string;
  passed: boolean;
  /** What went wrong, for a human (want/got, the error). */
  detail?: string;
  /** Grouping key for report.mjs, e.g. "missing builtin: http.send", "host builtin: regex.split". */
  blame?: string;
}

/** Serve's default (max_wasm_memory_mb: 256). */
const MAX_MEMORY_BYTES = 256 * 1024 * 1024;
const CACHE_OFF = { mode: 'off', ttlMs: 0, keyFields: [], nondeterministicTtlMs: 0 } as const;
const CONFLICT_MESSAGES = ['var assignment conflict', 'object insert conflict'];
const encoder = new TextEncoder();

export async function runCase(c: ConformanceCase): Promise<CaseOutcome> {
  const restoreEnv = setEnv(c.env);
  try {
    return await judge(c);
  } finally {
    restoreEnv();
  }
}

async function judge(c: ConformanceCase): Promise<CaseOutcome> {
  const fail = (detail: string, blame: string): CaseOutcome => ({ name: c.name, passed: false, detail, blame });
  let policy: WasmPolicy;
  try {
    const files = new Map([
      ['policy.wasm', c.wasm],
      ['data.json', Buffer.from(toJson(c.data ?? {}))],
    ]);
    const bundle = fromFiles(`conformance:${c.name}`, files, 'conformance', { maxBytes: 1 << 30 });
    policy = await WasmPolicy.load(bundle, { entrypoint: 'eval', cache: CACHE_OFF, maxMemoryBytes: MAX_MEMORY_BYTES, print: () => undefined });
  } catch (error) {
    const message = errorMessage(error);
    return fail(`load failed: ${message}`, loadBlame(message));
  }

  const call: EvaluationCall = {};
  let resultSet: Record<string, unknown>[] | undefined;
  let evalError: string | undefined;
  try {
    const input = c.input_term !== undefined ? inputTermText(c.input_term) : c.input !== undefined ? toJson(c.input) : '';
    resultSet = parseJsonExact(policy.evaluateJson(encoder.encode(input), call)) as Record<string, unknown>[];
  } catch (error) {
    evalError = errorMessage(error);
  }
  const builtinErrors = call.builtinErrors ?? [];
  const blame = resultBlame(policy.hostBuiltins, builtinErrors);
  const notes = builtinErrors.length > 0 ? `\nbuiltin errors: ${builtinErrors.join('; ')}` : '';
  const got = resultSet === undefined ? `error: ${evalError}` : `result set: ${canonical(resultSet)}`;

  const wantsError = c.want_error !== undefined || c.want_error_code !== undefined;
  if (wantsError && !c.strict_error) {
    if (evalError === undefined) return fail(`want error ${c.want_error_code ?? ''} "${c.want_error ?? ''}", got ${got}${notes}`, blame ?? 'error expected, none raised');
    // Like OPA's assertErrorCode: conflicts are the only errors a Wasm policy raises by itself.
    if (c.want_error_code !== 'eval_conflict_error') return fail(`want error ${c.want_error_code ?? ''} "${c.want_error ?? ''}", which OPA's Wasm e2e test does not match either; got ${got}`, 'unmatched error code');
    return CONFLICT_MESSAGES.some((m) => evalError.includes(m)) ? pass(c) : fail(`want a conflict error, got ${got}`, 'error message differs');
  }
  if (resultSet === undefined) {
    return fail(`unexpected ${got}${notes}`, builtinErrors.length > 0 && blame ? blame : `evaluation error: ${firstLine(evalError ?? '')}`);
  }

  if (wantsError) {
    // strict_error: the Wasm target's builtin errors are never strict, so an empty result set.
    return resultSet.length === 0 ? pass(c) : fail(`want an empty result set (strict builtin error), got ${got}${notes}`, blame ?? 'result differs');
  }
  if (c.want_defined !== undefined) {
    return (resultSet.length > 0) === c.want_defined
      ? pass(c)
      : fail(`want ${c.want_defined ? 'defined' : 'undefined'}, got ${got}${notes}`, blame ?? 'result differs');
  }
  const want = c.want_result ?? [];
  const verdict = sameResultSet(want, resultSet, c.sort_bindings ?? false);
  if (verdict === 'same') return pass(c);
  // Sets reach the caller as JSON arrays in the policy's order: that is the runtime's doing, whoever made the set.
  return fail(`want result set: ${canonical(want)}\ngot ${got}${notes}`, verdict === 'order of a set or array' ? verdict : blame ?? verdict);
}

function pass(c: ConformanceCase): CaseOutcome {
  return { name: c.name, passed: true };
}

/**
 * "the policy calls builtins gatehouse cannot evaluate:\n  a, b: reason" → "missing builtin: a, b"
 * (or "refused builtin: ..." for those the catalogue refuses by design).
 */
function loadBlame(message: string): string {
  const names = [...message.matchAll(/^ {2}([^:]+):/gm)].flatMap((m) => (m[1] ?? '').split(', '));
  if (!message.includes('cannot evaluate') || names.length === 0) return `load error: ${firstLine(message)}`;
  const refused = names.filter((name) => builtinSupport(name).kind === 'refused');
  return refused.length > 0 ? `refused builtin: ${refused.join(', ')}` : `missing builtin: ${names.join(', ')}`;
}

/** A builtin that raised an error, else the host builtins the policy calls; undefined when none. */
function resultBlame(hostBuiltins: readonly string[], builtinErrors: readonly string[]): string | undefined {
  const failed = [...new Set(builtinErrors.map((e) => e.split(':')[0] ?? e))];
  if (failed.length > 0) return `builtin error: ${failed.join(', ')}`;
  const called = hostBuiltins.filter((name) => name !== 'internal.print');
  return called.length > 0 ? `host builtin: ${called.join(', ')}` : undefined;
}

/** JSON for the runtime, big integers (bigints from parseJsonExact) exact. */
function toJson(value: unknown): string {
  return formatRegoValue(value as RegoValue);
}

/**
 * `input_term` as OPA's e2e test hands it to the policy: parsed as a Rego term and printed again
 * (`ast.MustParseTerm(...).String()`), which drops the trailing commas some cases carry.
 */
function inputTermText(term: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < term.length; i++) {
    const ch = term[i]!;
    if (inString) {
      out += ch;
      if (ch === '\\') out += term[++i] ?? '';
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    if (ch === ',' && /^\s*[}\]]/.test(term.slice(i + 1))) continue;
    out += ch;
  }
  return formatRegoValue(parseRegoValue(out));
}

function setEnv(env: Record<string, string> | undefined): () => void {
  if (!env) return () => undefined;
  const saved = Object.keys(env).map((key) => [key, process.env[key]] as const);
  Object.assign(process.env, env);
  return () => {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? '').slice(0, 120);
}
