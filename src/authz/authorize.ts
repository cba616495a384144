/**
 * The pipeline of one Check: decode → input → policy → decision. Pure apart from the injected
 * policy, clock and id source; it never throws: every failure becomes a deny Outcome with a code.
 */
import { CHECK_ERROR_STATUS, GatehouseError, isCheckErrorCode, toGatehouseError, type CheckErrorCode } from '../errors.js';
import type { DecodedCheckRequest } from '../grpc/protos.js';
import { cacheKey } from '../cache/cache-key.js';
import type { DecisionCache } from '../cache/decision-cache.js';
import type { CachePlan } from '../cache/plan.js';
import { decisionFromResultSet, type Decision } from './decision.js';
import { HygieneRefusal } from './hygiene/index.js';
import { buildInput, type InputDocument, type InputOptions } from './input.js';
import type { Outcome } from './outcome.js';
import { RUNAWAY_MEMORY_MS, type RecentRunaways } from './recent-runaways.js';

/** What authorize needs of a loaded policy (policy/evaluator implements it). */
export interface EvaluablePolicy {
  readonly revision: string;
  readonly bundle: string;
  /** SHA-256 of the bundle: part of every cache key, so a new bundle never serves old entries. */
  readonly digest: string;
  readonly cachePlan: CachePlan;
  /**
   * Evaluate the entrypoint for an already-serialised JSON input; returns the result set (`[]` when
   * undefined, `[{"result": value}]` otherwise). `call` carries the decision id in and what the
   * builtins learnt out.
   */
  evaluate(input: ArrayBuffer, call?: EvaluationCall): unknown;
  /**
   * The same on an evaluation thread, under the evaluation deadline (policy/eval-threads.ts);
   * rejects with GatehouseError eval_timeout past it. Present when the policy was loaded for it.
   */
  evaluateOffThread?(inputJson: string, call?: EvaluationCall): Promise<unknown>;
}

/** What one evaluation tells the policy's host (policy/wasm-runtime.ts) and learns from it. */
export interface EvaluationCall {
  /** The Check's decision id, for the policy's `print` lines. */
  decisionId?: string;
  /**
   * Drop the policy's `print` lines: an evaluation that is not a Check (the activation gate
   * replaying live inputs) must not write their values to the log without a decision.
   */
  quiet?: boolean;
  /** Set by builtins (a JWT's `exp`): ns since the epoch after which the result must not be reused. */
  validUntilNs?: bigint;
  /** Set when builtins failed (their results were undefined, as in OPA): the first few messages. */
  builtinErrors?: string[];
  /**
   * True once the Check's caller has given up (its deadline passed): an evaluation still waiting
   * for an evaluation thread is then dropped (deadline_exceeded) instead of run.
   */
  expired?(): boolean;
}

export interface AuthorizeDeps {
  /** When non-empty, sources outside these SPIFFE trust domains are denied before evaluation. */
  trustDomains: ReadonlySet<string>;
  /**
   * A forwarded caller certificate that is not a valid X.509-SVID: `deny` before evaluation
   * (`source_certificate_invalid`, the default) or hand it to the `policy` (`valid: false`).
   */
  invalidSourceCertificate?: 'deny' | 'policy';
  decode(bytes: Uint8Array): DecodedCheckRequest;
  currentPolicy(): EvaluablePolicy | undefined;
  inputOptions: InputOptions;
  newDecisionId(): string;
  /** Monotonic clock in nanoseconds. */
  nowNs(): bigint;
  /** Wall clock in ns since the Unix epoch (compared with a result's validUntilNs); default Date.now. */
  wallClockNs?(): bigint;
  /** The decision cache; absent when caching is off. */
  cache?: DecisionCache;
  /**
   * Evaluate on the policy's evaluation thread (eval_timeout_ms > 0) when it has one: authorize
   * then returns a Promise for cache misses. Unset: every evaluation runs inline, synchronously.
   */
  offThread?: boolean;
  /**
   * Cache keys whose evaluation hit eval_timeout lately: denied eval_timeout without evaluating
   * (authz/recent-runaways.ts). Only consulted for Checks that have a cache key.
   */
  runaways?: RecentRunaways;
  /** Also time the cache lookup and the start of evaluation (Timings.cacheNs, evalStartNs), for tracing. */
  detailedTimings?: boolean;
}

/** Keys longer than this (huge header values, say) are not cached. */
const MAX_KEY_CHARS = 16 * 1024;

/** Per-call facts the transport knows. */
export interface CallContext {
  /** True once the caller's deadline has passed; checked before the policy runs. */
  expired(): boolean;
  /** Set when the transport already knows the caller must be denied (e.g. client_not_allowed). */
  rejection?: GatehouseError;
}

const NO_DEADLINE: CallContext = { expired: () => false };

const encoder = new TextEncoder();

/**
 * Decide one Check. Synchronous (an Outcome) for everything answered on this thread: cache hits,
 * denials before the policy, and every evaluation when `deps.offThread` is not set. With
 * `deps.offThread` and a policy that can evaluate off-thread (policy/eval-threads.ts), a cache miss
 * returns a Promise of the Outcome, which never rejects. Never throws.
 */
export function authorize(bytes: Uint8Array, deps: AuthorizeDeps & { offThread?: false }, call?: CallContext): Outcome;
export function authorize(bytes: Uint8Array, deps: AuthorizeDeps, call?: CallContext): Outcome | Promise<Outcome>;
export function authorize(bytes: Uint8Array, deps: AuthorizeDeps, call: CallContext = NO_DEADLINE): Outcome | Promise<Outcome> {
  const check: Check = { deps, started: deps.nowNs(), decisionId: deps.newDecisionId(), input: undefined, inputDone: undefined, policy: undefined };
  try {
    if (call.rejection) throw call.rejection;
    const input = (check.input = buildInput(decodeRequest(bytes, deps), deps.inputOptions));
    check.inputDone = deps.nowNs();
    checkTrustDomain(input, deps.trustDomains);
    if (deps.invalidSourceCertificate !== 'policy') checkSourceCertificate(input);
    const policy = (check.policy = deps.currentPolicy());
    if (!policy) throw new GatehouseError('policy_not_loaded', 'no policy bundle is loaded yet; denying every Check until one loads');
    if (call.expired()) throw new GatehouseError('deadline_exceeded', 'the caller\'s deadline passed before the policy ran');
    const plan = policy.cachePlan;
    const key = deps.cache && plan.enabled ? cacheKey(policy.digest, plan.fields, input, MAX_KEY_CHARS) : undefined;
    if (key !== undefined) {
      const hit = deps.cache!.get(key);
      if (deps.detailedTimings) check.lookupDone = deps.nowNs();
      if (hit) return decided(hit.decision, check.decisionId, input, policy, hit.result, timings(check), 'hit');
    }
    if (key !== undefined && deps.runaways?.has(key)) {
      throw new GatehouseError(
        'eval_timeout',
        `the same request (same policy, same fields the policy reads) ran past eval_timeout_ms within the last ${RUNAWAY_MEMORY_MS / 1000} s; denied without evaluating`,
      );
    }
    const evaluation: EvaluationCall = { decisionId: check.decisionId, expired: call.expired };
    if (deps.detailedTimings) check.evalStarted = deps.nowNs();
    const inputJson = JSON.stringify(input);
    if (deps.offThread && policy.evaluateOffThread) {
      return policy.evaluateOffThread(inputJson, evaluation).then(
        (resultSet) => concluded(check, resultSet, evaluation, inputJson, key),
        (thrown: unknown) => {
          const error = toGatehouseError(thrown, 'eval_error', 'policy evaluation failed');
          if (error.code === 'eval_timeout' && key !== undefined) deps.runaways?.add(key);
          return failed(check, error);
        },
      ).catch((thrown: unknown) => failed(check, thrown));
    }
    return concluded(check, evaluate(policy, inputJson, evaluation), evaluation, inputJson, key);
  } catch (thrown) {
    return failed(check, thrown);
  }
}

/** What one Check has gathered so far (the parts an off-thread evaluation resumes with). */
interface Check {
  deps: AuthorizeDeps;
  started: bigint;
  decisionId: string;
  input: InputDocument | undefined;
  inputDone: bigint | undefined;
  policy: EvaluablePolicy | undefined;
  result?: unknown;
  /** With deps.detailedTimings: when the cache lookup ended, when evaluation started. */
  lookupDone?: bigint;
  evalStarted?: bigint;
}

/** The Outcome of an evaluated result set; stores a valid decision in the cache under `key`. */
function concluded(check: Check, resultSet: unknown, evaluation: EvaluationCall, inputJson: string, key: string | undefined): Outcome {
  const { deps, input, policy } = check;
  try {
    const result = (check.result = Array.isArray(resultSet) && resultSet.length === 1 ? (resultSet[0] as { result?: unknown }).result : undefined);
    const decision = decisionFromResultSet(resultSet);
    // Only valid decisions are cached; every error is evaluated again next time. A result that a
    // builtin bounded in time (a token's exp) is never kept past that time.
    const plan = policy!.cachePlan;
    const ttlMs = key !== undefined && plan.enabled ? boundedTtlMs(plan.ttlMs, evaluation.validUntilNs, deps) : 0;
    if (key !== undefined && ttlMs > 0) {
      deps.cache!.set(key, { result, decision }, ttlMs, 2 * (JSON.stringify(result)?.length ?? 0));
    }
    const outcome = decided(decision, check.decisionId, input!, policy!, result, timings(check), key === undefined ? 'off' : 'miss');
    if (evaluation.builtinErrors) outcome.builtinErrors = evaluation.builtinErrors;
    outcome.inputJson = inputJson;
    return outcome;
  } catch (thrown) {
    return failed(check, thrown);
  }
}

/** Any failure as a deny Outcome with its code. */
function failed(check: Check, thrown: unknown): Outcome {
  const error = toGatehouseError(thrown, 'internal_error');
  const code: CheckErrorCode = isCheckErrorCode(error.code) ? error.code : 'internal_error';
  const refusal = error instanceof HygieneRefusal ? error : undefined;
  return {
    decisionId: check.decisionId,
    allowed: false,
    httpStatus: refusal ? refusal.httpStatus : CHECK_ERROR_STATUS[code],
    reasonLabel: code,
    reason: error.message,
    error: error as GatehouseError & { code: CheckErrorCode },
    ...(refusal && { hygiene: { rule: refusal.rule, part: refusal.part } }),
    result: check.result,
    input: check.input,
    revision: check.policy?.revision,
    bundle: check.policy?.bundle,
    cache: 'off',
    timings: timings(check),
  };
}

function checkTrustDomain(input: InputDocument, trustDomains: ReadonlySet<string>): void {
  if (trustDomains.size === 0) return;
  const source = input.identity.source;
  if (!source.valid) {
    throw new GatehouseError('untrusted_trust_domain', `the source has no valid SPIFFE ID (${source.error}); trust_domains is set`);
  }
  if (!trustDomains.has(source.trust_domain)) {
    throw new GatehouseError('untrusted_trust_domain', `source trust domain "${source.trust_domain}" is not in trust_domains`);
  }
}

/** The certificate Envoy forwarded (include_peer_certificate) must be a valid X.509-SVID for the caller. */
function checkSourceCertificate(input: InputDocument): void {
  const certificate = input.identity.source_certificate;
  if (!certificate || certificate.valid) return;
  const principal = input.identity.source.principal ?? 'a caller without a principal';
  throw new GatehouseError(
    'source_certificate_invalid',
    `the certificate Envoy forwarded for ${principal} is not a valid X.509-SVID: ${certificate.errors.join('; ')} (invalid_source_certificate: deny)`,
  );
}

function decodeRequest(bytes: Uint8Array, deps: AuthorizeDeps): DecodedCheckRequest {
  try {
    return deps.decode(bytes);
  } catch (thrown) {
    throw toGatehouseError(thrown, 'input_parse_error', 'the CheckRequest could not be decoded');
  }
}

/** The cache TTL, cut to end at `validUntilNs` when a builtin set one; 0 = do not cache. */
function boundedTtlMs(ttlMs: number, validUntilNs: bigint | undefined, deps: AuthorizeDeps): number {
  if (validUntilNs === undefined) return ttlMs;
  const now = deps.wallClockNs ? deps.wallClockNs() : BigInt(Date.now()) * 1_000_000n;
  const remainingMs = Number((validUntilNs - now) / 1_000_000n);
  return Math.max(0, Math.min(ttlMs, remainingMs));
}

function evaluate(policy: EvaluablePolicy, inputJson: string, call: EvaluationCall): unknown {
  // Serialised once (the activation gate keeps the same text) and handed to the runtime as bytes.
  const bytes = encoder.encode(inputJson).buffer as ArrayBuffer;
  try {
    return policy.evaluate(bytes, call);
  } catch (thrown) {
    throw toGatehouseError(thrown, 'eval_error', 'policy evaluation failed');
  }
}

function decided(
  decision: Decision,
  decisionId: string,
  input: InputDocument,
  policy: EvaluablePolicy,
  result: unknown,
  timings: Outcome['timings'],
  cache: Outcome['cache'],
): Outcome {
  return {
    decisionId,
    allowed: decision.allowed,
    httpStatus: decision.httpStatus,
    reasonLabel: decision.allowed ? 'policy_allowed' : 'policy_denied',
    reason: decision.reason ?? (decision.allowed ? 'allowed by policy' : 'denied by policy'),
    decision,
    result,
    input,
    revision: policy.revision,
    bundle: policy.bundle,
    cache,
    timings,
  };
}

/** Without `inputDone` (the input never got built), all the time counts as input time. */
function timings(check: Check): Outcome['timings'] {
  const { started, inputDone, lookupDone, evalStarted } = check;
  const end = check.deps.nowNs();
  const input = inputDone ?? end;
  const measured: Outcome['timings'] = { inputNs: Number(input - started), evalNs: Number(end - input), totalNs: Number(end - started) };
  if (lookupDone !== undefined) measured.cacheNs = Number(lookupDone - input);
  if (evalStarted !== undefined) measured.evalStartNs = Number(evalStarted - started);
  return measured;
}
