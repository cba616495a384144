/** `gatehouse check`: the input document and decision for one CheckRequest, for policy authors. */
import { readFileSync } from 'node:fs';
import type { Outcome } from '../authz/outcome.js';
import { structToJson } from '../authz/proto-json.js';
import { toCheckResponse } from '../authz/response.js';
import { GatehouseError, describeThrown } from '../errors.js';
import { authzProtos } from '../grpc/protos.js';
import { EVALUATION_FLAGS, decideRequestJson, loadOfflinePolicy, parse, type Io } from './common.js';

export const CHECK_USAGE = `Usage: gatehouse check --bundle PATH --request FILE [--entrypoint PATH] [--max-body-bytes N]
                       [--trust-domains TD,...] [--xfcc-trusted-sources SPIFFE_ID,...]
                       [--request-hygiene strict|compatible] [--request-hygiene-allow RULE,...]

Evaluates one CheckRequest, given as JSON in Envoy's proto JSON form (the same document Envoy
sends, e.g. {"attributes": {"request": {"http": {"method": "GET", "path": "/", ...}}}}), and
prints the input document, the policy's result and the CheckResponse gatehouse would send.
"-" reads the request from standard input. Exit status: 0 allowed, 1 denied, 2 usage or bundle error.`;

export async function check(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, { ...EVALUATION_FLAGS, request: { type: 'string' } }, CHECK_USAGE);
  if (values.help) {
    io.stdout(`${CHECK_USAGE}\n`);
    return 0;
  }
  if (!values.bundle || !values.request) throw new GatehouseError('usage', `--bundle and --request are required\n\n${CHECK_USAGE}`);
  const offline = await loadOfflinePolicy(values, CHECK_USAGE);
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
  const protos = authzProtos();
  const message = protos.CheckResponse.fromObject(toCheckResponse(outcome) as object);
  const json = protos.CheckResponse.toObject(message, { enums: String, longs: String, json: true });
  if (json.dynamicMetadata) json.dynamicMetadata = structToJson(json.dynamicMetadata);
  return json;
}
