/** `gatehouse check`: the input document and decision for one CheckRequest, for policy authors. */
import { readFileSync } from 'node:fs';
import type { Outcome } from '../authz/outcome.js';
import { toCheckResponse } from '../authz/response.js';
import { GatehouseError, describeThrown } from '../errors.js';
import { authzProtos } from '../grpc/protos.js';
import { responseJson } from './check-response-json.js';
import { decideRequestJson, loadOfflinePolicy, type Io, type Values } from './common.js';

/** Evaluates the CheckRequest of --request with --bundle; prints a JSON report; 0 allowed, 1 denied. */
export async function check(values: Values, io: Io): Promise<number> {
  const offline = await loadOfflinePolicy(values, '');
  const path = values.request as string;
  let requestJson: unknown;
  try {
    requestJson = JSON.parse(path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8'));
  } catch (error) {
    throw new GatehouseError('usage', `cannot read the request from ${path}: ${describeThrown(error)}`);
  }
  const outcome = decideRequestJson(offline, requestJson, path);
  const report = {
    input: outcome.input ?? null,
    result: outcome.result ?? null,
    decision: {
      allowed: outcome.allowed,
      http_status: outcome.allowed ? 200 : outcome.httpStatus,
      reason_code: outcome.reasonLabel,
      reason: outcome.reason,
      ...(outcome.hygiene && { hygiene: outcome.hygiene }),
      revision: outcome.revision,
      decision_cache: offline.policy.cachePlan.why,
    },
    response: readableResponse(outcome),
  };
  io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  return outcome.allowed ? 0 : 1;
}

/** The CheckResponse as gatehouse would send it, in proto JSON form with dynamic metadata as JSON. */
export function readableResponse(outcome: Outcome): Record<string, unknown> {
  return responseJson(authzProtos().CheckResponse.fromObject(toCheckResponse(outcome) as object));
}
