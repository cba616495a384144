/**
 * Outcome → CheckResponse: the only place that knows the response's shape
 * (https://www.envoyproxy.io/docs/envoy/latest/api-v3/service/auth/v3/external_auth.proto).
 * Every response carries `dynamic_metadata.decision_id`; every header sets `append_action`
 * explicitly so Envoy never falls back to its deprecated `append` default.
 */
import type { CheckResponse } from '../grpc/protos.js';
import type { HeaderPair } from './decision.js';
import type { Outcome } from './outcome.js';
import { jsonToStruct, type JsonObject } from './proto-json.js';

// google.rpc.Code values (https://github.com/googleapis/googleapis/blob/master/google/rpc/code.proto).
const RPC_OK = 0;
const RPC_PERMISSION_DENIED = 7;
const RPC_UNAUTHENTICATED = 16;

type AppendAction = 'APPEND_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS_OR_ADD';
const APPEND: AppendAction = 'APPEND_IF_EXISTS_OR_ADD';
const OVERWRITE: AppendAction = 'OVERWRITE_IF_EXISTS_OR_ADD';

/**
 * `dryRun`: the policy's deny is reported (reason_code, decision log, metrics) but not enforced:
 * Envoy gets a plain OK, marked `dry_run` in the dynamic metadata.
 */
/** Denials that are configured security boundaries, not policy: dry-run never lifts them. */
const ENFORCED_IN_DRY_RUN = new Set(['client_not_allowed', 'client_certificate_invalid', 'source_certificate_invalid', 'untrusted_trust_domain']);

/** Whether dry-run answers this denied outcome with allow. */
export function dryRunLifts(outcome: Outcome): boolean {
  return !outcome.allowed && !ENFORCED_IN_DRY_RUN.has(outcome.reasonLabel);
}

export function toCheckResponse(outcome: Outcome, dryRun = false, withDecisionId = true): CheckResponse {
  const decision = outcome.decision;
  const id: JsonObject = withDecisionId ? { decision_id: outcome.decisionId } : {};
  if (dryRun && dryRunLifts(outcome)) {
    return {
      status: { code: RPC_OK },
      okResponse: {},
      dynamicMetadata: jsonToStruct({ ...id, reason_code: outcome.reasonLabel, dry_run: true }),
    };
  }
  // decision_id joins Envoy's access log (%DYNAMIC_METADATA(envoy.filters.http.ext_authz:decision_id)%)
  // to the decision log; the policy cannot override it.
  const metadata: JsonObject = { ...(decision?.dynamicMetadata ?? {}), ...id, reason_code: outcome.reasonLabel };
  // A policy's own decision_id never reaches Envoy: the id is gatehouse's, per Check.
  if (!withDecisionId) delete metadata.decision_id;
  const dynamicMetadata = jsonToStruct(metadata);

  if (outcome.allowed && decision) {
    return {
      status: { code: RPC_OK },
      okResponse: {
        headers: upstreamRequestHeaders(decision.headers),
        headersToRemove: decision.requestHeadersToRemove,
        responseHeadersToAdd: clientResponseHeaders(decision.responseHeadersToAdd),
        queryParametersToSet: decision.queryParametersToSet.map(([key, value]) => ({ key, value })),
        queryParametersToRemove: decision.queryParametersToRemove,
      },
      dynamicMetadata,
    };
  }

  return {
    status: {
      code: outcome.httpStatus === 401 ? RPC_UNAUTHENTICATED : RPC_PERMISSION_DENIED,
      message: outcome.reasonLabel,
    },
    deniedResponse: {
      status: { code: outcome.httpStatus as never },
      headers: localReplyHeaders(decision?.headers ?? []),
      body: decision?.body ?? '',
    },
    dynamicMetadata,
  };
}

/*
 * How Envoy applies each list, verified through Envoy 1.40 by test/e2e/response-headers.test.ts
 * (docs/decision.md#header-maps). The three lists are applied differently, so each has its own
 * mapping; `append_action` is always set, as Envoy's default for it is deprecated behaviour.
 */

/**
 * `ok_response.headers` (the request sent upstream). Envoy sets every entry whose deprecated
 * `append` flag is unset, whatever its append_action, so the last of several values would win;
 * an entry with `append: true` is joined to the existing field line with ",". The first value of
 * a name therefore replaces what the client sent, and later values are appended with the flag:
 * the upstream receives `x-a: 1,2`, the single field line HTTP defines as equal to two lines
 * (RFC 9110 section 5.3).
 */
function upstreamRequestHeaders(pairs: readonly HeaderPair[]) {
  const seen = new Set<string>();
  return pairs.map(([key, value]) => {
    if (!seen.has(key)) {
      seen.add(key);
      return { header: { key, value }, appendAction: OVERWRITE };
    }
    return { header: { key, value }, appendAction: APPEND, append: { value: true } };
  });
}

/**
 * `ok_response.response_headers_to_add` (the upstream's response to the client). Envoy adds the
 * APPEND entries first and sets the OVERWRITE ones after, so "overwrite, then append" would leave
 * only the first value. A name with one value overwrites what the upstream sent; a name with
 * several values is added value by value, after the upstream's own. `set-cookie` is always added:
 * each cookie is its own field (RFC 6265 section 3), so one cookie from the policy must not delete
 * the upstream's session cookies.
 */
function clientResponseHeaders(pairs: readonly HeaderPair[]) {
  const counts = new Map<string, number>();
  for (const [key] of pairs) counts.set(key, (counts.get(key) ?? 0) + 1);
  return pairs.map(([key, value]) => ({ header: { key, value }, appendAction: counts.get(key)! > 1 || key === 'set-cookie' ? APPEND : OVERWRITE }));
}

/**
 * `denied_response.headers` (Envoy's local reply). Envoy removes every named header from its reply,
 * then adds each entry as its own field line, so every value arrives whatever the action; the
 * actions say the same: the first value of a name replaces, later ones append.
 */
function localReplyHeaders(pairs: readonly HeaderPair[]) {
  const seen = new Set<string>();
  return pairs.map(([key, value]) => {
    const appendAction: AppendAction = seen.has(key) ? APPEND : OVERWRITE;
    seen.add(key);
    return { header: { key, value }, appendAction };
  });
}
