/**
 * The one error type of gatehouse, with a closed set of codes. The code doubles as the metric
 * label (`gatehouse_check_errors_total{code}`) and the decision-log `error.code` field, so it must
 * stay a small fixed set. Per-Check codes carry the HTTP status Envoy returns to the caller.
 */
export const CHECK_ERROR_STATUS = {
  /** The CheckRequest is malformed: no attributes, bad path, bad percent escape, bad body. */
  input_parse_error: 400,
  /** The request body is larger than `max_body_bytes`. */
  body_too_large: 413,
  /** A request-hygiene rule refused the request (authz/hygiene/rules.ts; the rule picks the status). */
  request_refused: 400,
  /** A part of the request is over a hygiene limit (413, 414 or 431 by the limit). */
  request_too_large: 413,
  /** No policy bundle has been loaded yet. */
  policy_not_loaded: 503,
  /** The policy raised an error while evaluating (conflict, builtin failure, out of memory). */
  eval_error: 403,
  /**
   * The policy evaluation ran past `eval_timeout_ms` and was stopped. 403 like eval_error: the
   * policy failed to decide, the caller may not pass; not 504, which would say an upstream was slow.
   */
  eval_timeout: 403,
  /**
   * Too many policy evaluations were waiting for an evaluation thread (policy/eval-threads.ts
   * MAX_QUEUED): denied without evaluating. 503: the server is overloaded, the policy said nothing.
   */
  eval_queue_full: 503,
  /** The policy left its decision undefined. */
  decision_undefined: 403,
  /** The policy returned a value that is not a valid decision. */
  decision_invalid: 403,
  /** The caller's deadline passed before a decision was made. */
  deadline_exceeded: 504,
  /** The source's SPIFFE trust domain is not in `trust_domains`. */
  untrusted_trust_domain: 403,
  /** The client calling gatehouse (over mTLS) is not in `tls_allowed_clients`. */
  client_not_allowed: 403,
  /** The caller's certificate Envoy forwarded breaks the X.509-SVID rules (`invalid_source_certificate: deny`). */
  source_certificate_invalid: 403,
  /**
   * The client calling gatehouse over mTLS has a leaf that is a CA or can sign certificates, or
   * whose SPIFFE ID does not chain to its own trust domain's CA (`tls_client_trust_bundles`).
   */
  client_certificate_invalid: 403,
  /** A bug in gatehouse; the Check is still answered with a deny. */
  internal_error: 500,
} as const;

export type CheckErrorCode = keyof typeof CHECK_ERROR_STATUS;

/** Codes for failures outside a Check: start-up, configuration, bundles. */
export type ServerErrorCode = 'config_invalid' | 'bundle_invalid' | 'bundle_read_error' | 'usage';

export type ErrorCode = CheckErrorCode | ServerErrorCode;

export class GatehouseError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GatehouseError';
    this.code = code;
  }
}

export function isCheckErrorCode(code: ErrorCode): code is CheckErrorCode {
  return Object.prototype.hasOwnProperty.call(CHECK_ERROR_STATUS, code);
}

/**
 * opa-wasm throws strings (from `opa_abort`) and plain objects (`{message}` for a missing builtin);
 * user code throws Errors. Turn any of them into one readable message.
 */
export function describeThrown(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.message;
  if (typeof thrown === 'string') return thrown;
  if (thrown !== null && typeof thrown === 'object' && 'message' in thrown) {
    return String((thrown as { message: unknown }).message);
  }
  return String(thrown);
}

/** Normalise anything thrown into a GatehouseError; GatehouseErrors pass through unchanged. */
export function toGatehouseError(thrown: unknown, fallback: ErrorCode, prefix?: string): GatehouseError {
  if (thrown instanceof GatehouseError) return thrown;
  const message = describeThrown(thrown);
  return new GatehouseError(fallback, prefix ? `${prefix}: ${message}` : message, { cause: thrown });
}
