/**
 * The one transport-neutral result of a Check. `authorize` produces it; authz/response turns it
 * into a CheckResponse; observability turns it into a decision-log line and metrics.
 */
import type { CheckErrorCode, GatehouseError } from '../errors.js';
import type { Decision } from './decision.js';
import type { HygieneRuleId } from './hygiene/index.js';
import type { InputDocument } from './input.js';

/** Bounded set of `reason` label values: the two policy outcomes plus every error code. */
export type ReasonLabel = 'policy_allowed' | 'policy_denied' | CheckErrorCode;

export interface Timings {
  /** CheckRequest bytes → input document. */
  inputNs: number;
  /** Serialising the input and running the Wasm policy. */
  evalNs: number;
  /** The whole pipeline, decode to decision. */
  totalNs: number;
  /**
   * Only with AuthorizeDeps.detailedTimings (tracing on): the cache key and lookup, from the end of
   * inputNs (when the Check had a cache key), and when evaluation started, from the Check's start.
   */
  cacheNs?: number;
  evalStartNs?: number;
}

export interface Outcome {
  decisionId: string;
  allowed: boolean;
  /** HTTP status Envoy sends the caller on deny. */
  httpStatus: number;
  /** Closed-set label for metrics. */
  reasonLabel: ReasonLabel;
  /** Human-readable reason: the policy's `reason`, or the error message. */
  reason: string;
  decision?: Decision;
  error?: GatehouseError & { code: CheckErrorCode };
  /** Set when a request-hygiene rule refused the request: which rule, and the offending part. */
  hygiene?: { rule: HygieneRuleId; part: string };
  /** The raw value at the entrypoint, as the policy returned it. */
  result?: unknown;
  input?: InputDocument;
  /** Policy revision (bundle `.manifest` revision) that decided, when one was loaded. */
  revision?: string;
  bundle?: string;
  /** hit: answered from the decision cache; miss: evaluated and stored; off: not cacheable. */
  cache: 'hit' | 'miss' | 'off';
  /** Builtins that failed during evaluation (their results were undefined, as in OPA): the first few. */
  builtinErrors?: string[];
  /** The input exactly as the policy evaluated it (JSON), when it was evaluated (not on a cache hit). */
  inputJson?: string;
  timings: Timings;
}
