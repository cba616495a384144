/**
 * The thin adapter between grpc-js and the pipeline: bytes in, `authorize`, bytes out. It never
 * throws and never answers with an RPC error: every outcome, including a bug, is a CheckResponse.
 * Telemetry for the Check is recorded after the response has been handed to grpc-js.
 */
import type { sendUnaryData, ServerUnaryCall, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { authorize, type AuthorizeDeps } from '../authz/authorize.js';
import type { Outcome } from '../authz/outcome.js';
import { toCheckResponse } from '../authz/response.js';
import { CHECK_METHOD_PATH, type AuthzProtos } from './protos.js';

const identity = (bytes: Buffer): Buffer => bytes;

/**
 * The Authorization service with pass-through (de)serialisers: decoding happens inside the
 * pipeline, where a malformed request becomes a deny instead of grpc-js' INTERNAL error.
 */
export const AUTHORIZATION_SERVICE: ServiceDefinition = {
  Check: {
    path: CHECK_METHOD_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
    originalName: 'check',
  },
};

export interface CheckServiceDeps extends AuthorizeDeps {
  protos: AuthzProtos;
  /** Metrics and the decision log; called after the response is sent. */
  record(outcome: Outcome): void;
}

export function checkService(deps: CheckServiceDeps): UntypedServiceImplementation {
  return {
    Check(call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) {
      const deadline = call.getDeadline();
      const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
      const expired = Number.isFinite(deadlineMs) ? () => Date.now() >= deadlineMs : () => false;
      const outcome = authorize(call.request, deps, { expired });
      callback(null, encodeResponse(outcome, deps.protos));
      setImmediate(deps.record, outcome);
    },
  };
}

export function encodeResponse(outcome: Outcome, protos: AuthzProtos): Buffer {
  try {
    return protos.encodeCheckResponse(toCheckResponse(outcome));
  } catch {
    // Unreachable unless the response builder has a bug; still a deny, never an RPC error.
    return protos.encodeCheckResponse({
      status: { code: 7, message: 'internal_error' },
      deniedResponse: { status: { code: 500 as never } },
      dynamicMetadata: { fields: { decision_id: { stringValue: outcome.decisionId } } },
    });
  }
}
