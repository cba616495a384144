/**
 * Outcome → the HTTP answer to an authorization subrequest: the HTTP listener's counterpart of
 * authz/response.ts (the one place that knows this shape). Pure.
 *
 * - Allow: 200, empty body, the decision's `headers` (to be set on the upstream request: Envoy's
 *   `allowed_upstream_headers`, nginx `auth_request_set` + `proxy_set_header`) and its
 *   `response_headers_to_add` (for the client: Envoy's `allowed_client_headers_on_success`, nginx
 *   `auth_request_set` + `add_header`); `request_headers_to_remove` as Envoy's
 *   `x-envoy-auth-headers-to-remove`.
 * - Deny: the decision's status (403 unless the policy said otherwise; an error's status), its
 *   headers and body.
 * - Every answer carries `x-gatehouse-decision-id`, the id in the decision log.
 * Query-parameter mutations and pseudo-headers (`:path`) have no HTTP form: an allow that carries them is answered as a deny
 * (http-authz/server.ts turns it into a `decision_invalid` Outcome before answering and logging).
 */
import type { HeaderPair } from '../authz/decision.js';
import { dryRunLifts } from '../authz/response.js';
import type { Outcome } from '../authz/outcome.js';

export const DECISION_ID_HEADER = 'x-gatehouse-decision-id';
export const REASON_CODE_HEADER = 'x-gatehouse-reason-code';
/** Envoy's ext_authz HTTP client removes the headers this lists from the upstream request. */
export const HEADERS_TO_REMOVE_HEADER = 'x-envoy-auth-headers-to-remove';

export interface HttpAnswer {
  status: number;
  /** In order; a name may repeat (each value its own field line). */
  headers: HeaderPair[];
  body: string;
}

/** Why an allow cannot be carried over HTTP; undefined when it can. */
export function untransportable(outcome: Outcome): string | undefined {
  const decision = outcome.decision;
  if (!outcome.allowed || !decision) return undefined;
  if (decision.queryParametersToSet.length > 0 || decision.queryParametersToRemove.length > 0) {
    return 'the policy allowed with query_parameters_to_set/query_parameters_to_remove, which an HTTP authorization answer cannot carry (only gRPC ext_authz can); denied rather than passing the request unchanged';
  }
  const pseudo = [...decision.headers, ...decision.responseHeadersToAdd].find(([name]) => name.startsWith(':'));
  if (pseudo) {
    return `the policy allowed with the pseudo-header ${pseudo[0]} in its headers, which an HTTP/1.1 authorization answer cannot carry (only gRPC ext_authz can); denied rather than passing the request unchanged`;
  }
  return undefined;
}

/** `dryRun`: a lifted deny is answered 200 without the policy's headers, as over gRPC. */
export function toHttpAnswer(outcome: Outcome, dryRun = false): HttpAnswer {
  const decision = outcome.decision;
  const headers: HeaderPair[] = [
    [DECISION_ID_HEADER, outcome.decisionId],
    [REASON_CODE_HEADER, outcome.reasonLabel],
  ];
  if (dryRun && dryRunLifts(outcome)) return { status: 200, headers, body: '' };
  if (outcome.allowed && decision) {
    headers.push(...decision.headers, ...decision.responseHeadersToAdd);
    if (decision.requestHeadersToRemove.length > 0) headers.push([HEADERS_TO_REMOVE_HEADER, decision.requestHeadersToRemove.join(',')]);
    return { status: 200, headers, body: '' };
  }
  // An allowed Outcome without a decision cannot occur; were it to, it is still a deny.
  const status = outcome.allowed ? 500 : outcome.httpStatus;
  // Only a policy's deny speaks to the caller: an allow turned into a deny (decision_invalid) keeps
  // its headers, which were meant for the upstream (a token, say), to itself.
  const denial = decision && !decision.allowed ? decision : undefined;
  headers.push(...(denial?.headers ?? []));
  return { status: status >= 200 && status < 300 ? 403 : status, headers, body: denial?.body ?? '' };
}
