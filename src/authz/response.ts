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

/**
 * `dryRun`: the policy's deny is reported (reason_code, decision log, metrics) but not enforced:
 * Envoy gets a plain OK, marked `dry_run` in the dynamic metadata.
 */
/** Denials that are configured security boundaries, not policy: dry-run never lifts them. */
const ENFORCED_IN_DRY_RUN = new Set(['client_not_allowed', 'untrusted_trust_domain']);

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
        headers: headerOptions(decision.headers),
        headersToRemove: decision.requestHeadersToRemove,
        responseHeadersToAdd: headerOptions(decision.responseHeadersToAdd),
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
      headers: headerOptions(decision?.headers ?? []),
      body: decision?.body ?? '',
    },
    dynamicMetadata,
  };
}

/** The first value of a name replaces what the request had; later values of it are appended. */
function headerOptions(pairs: readonly HeaderPair[]) {
  const seen = new Set<string>();
  return pairs.map(([key, value]) => {
    const appendAction: AppendAction = seen.has(key) ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD';
    seen.add(key);
    return { header: { key, value }, appendAction };
  });
}
