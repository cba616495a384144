/**
 * The thin adapter between grpc-js and the pipeline: bytes in, `authorize`, bytes out. It never
 * throws and never answers with an RPC error: every outcome, including a bug, is a CheckResponse.
 * Telemetry for the Check is recorded after the response has been handed to grpc-js.
 */
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import type { sendUnaryData, ServerUnaryCall, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { authorize, type AuthorizeDeps } from '../authz/authorize.js';
import type { Outcome } from '../authz/outcome.js';
import { toCheckResponse } from '../authz/response.js';
import { GatehouseError, describeThrown } from '../errors.js';
import { clientCertificateProblem, type TrustBundles } from '../identity/client-certificate.js';
import { subjectAltNames } from '../identity/subject-alt-names.js';
import type { CheckTracer, TracedCall } from '../observability/tracing.js';
import { framingProblem } from './oversized-requests.js';
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
  /** With mTLS: the SPIFFE IDs (client certificate URI SAN) allowed to ask for decisions. */
  allowedClients: ReadonlySet<string>;
  /** With tls_client_trust_bundles: the current per-trust-domain client CAs (they rotate). */
  clientTrustBundles?: () => TrustBundles | undefined;
  /** Answer allow whatever the policy decided (the decision is still logged and counted). */
  dryRun: boolean;
  /** Called when recording telemetry for a Check failed. */
  onRecordError?: (error: unknown) => void;
  /** With tracing on (observability/tracing.ts): records each Check's spans after its response. */
  tracer?: CheckTracer;
}

export function checkService(deps: CheckServiceDeps): UntypedServiceImplementation {
  // A client's certificate is the same for every Check on its connection: judge each certificate
  // once, again only when the trust bundles rotate.
  const verdicts = new Map<string, GatehouseError | undefined>();
  let judgedWith: TrustBundles | undefined;
  const judge = (call: ServerUnaryCall<Buffer, Buffer>): GatehouseError | undefined => {
    const peer = call.getAuthContext().sslPeerCertificate;
    if (!peer && deps.allowedClients.size === 0) return undefined;
    const bundles = deps.clientTrustBundles?.();
    if (bundles !== judgedWith || verdicts.size >= 1024) {
      verdicts.clear();
      judgedWith = bundles;
    }
    const key = peer?.fingerprint256 ?? '';
    if (verdicts.has(key)) return verdicts.get(key);
    const verdict = clientVerdict(peer, deps.allowedClients, bundles);
    verdicts.set(key, verdict);
    return verdict;
  };
  return {
    Check(call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) {
      const traceStartMs = deps.tracer?.now();
      const deadline = call.getDeadline();
      const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
      const expired = Number.isFinite(deadlineMs) ? () => Date.now() >= deadlineMs : () => false;
      const rejection = judge(call) ?? framingRejection(call.request);
      const outcome = authorize(call.request, deps, { expired, rejection });
      // A Promise only when the policy runs on the evaluation thread; everything else answers now.
      const traced = traceStartMs === undefined ? undefined : call;
      if (outcome instanceof Promise) outcome.then((settled) => answer(deps, callback, settled, traced, traceStartMs), (error: unknown) => answerBug(deps, callback, error));
      else answer(deps, callback, outcome, traced, traceStartMs);
    },
  };
}

/** `traced` and `traceStartMs` only with tracing on. */
function answer(deps: CheckServiceDeps, callback: sendUnaryData<Buffer>, outcome: Outcome, traced?: ServerUnaryCall<Buffer, Buffer>, traceStartMs?: number): void {
  callback(null, encodeResponse(outcome, deps.protos, deps.dryRun));
  if (traced === undefined || traceStartMs === undefined) setImmediate(recordSafely, deps, outcome);
  else setImmediate(recordSafely, deps, outcome, { startMs: traceStartMs, endMs: deps.tracer!.now(), metadata: traced.metadata });
}

/** authorize's Promise never rejects; if it did (a bug), the caller still gets a deny. */
function answerBug(deps: CheckServiceDeps, callback: sendUnaryData<Buffer>, error: unknown): void {
  deps.onRecordError?.(error);
  callback(null, encodeResponse({ decisionId: deps.newDecisionId(), allowed: false, httpStatus: 500, reasonLabel: 'internal_error', reason: describeThrown(error), cache: 'off', timings: { inputNs: 0, evalNs: 0, totalNs: 0 } }, deps.protos, false));
}

/** Telemetry runs outside the call; a failure there must never take the process down. */
function recordSafely(deps: CheckServiceDeps, outcome: Outcome, traced?: TracedCall): void {
  try {
    deps.record(outcome);
  } catch (error) {
    deps.onRecordError?.(error);
  }
  if (traced) deps.tracer?.record(outcome, traced, deps.dryRun);
}

/**
 * A call whose bytes are not one plain CheckRequest within the receive limit (grpc/oversized-requests.ts)
 * is a deny, never an RPC error: 413 for an oversized message (answered as soon as its length
 * prefix arrives), 400 for compressed, cut-short, missing or repeated messages.
 */
function framingRejection(request: Buffer): GatehouseError | undefined {
  const problem = framingProblem(request);
  switch (problem?.kind) {
    case undefined:
      return undefined;
    case 'oversized':
      return new GatehouseError(
        'body_too_large',
        `the CheckRequest is ${problem.bytes} bytes, more than the ${problem.limit} bytes gatehouse reads (4 x max_body_bytes + 1 MiB, at least 64 MiB); it was denied when its length arrived and the rest discarded unread. Keep Envoy's with_request_body.max_request_bytes <= max_body_bytes`,
      );
    case 'compressed':
      return new GatehouseError(
        'input_parse_error',
        `the CheckRequest is compressed (gRPC compressed flag ${problem.flag}); gatehouse reads only uncompressed CheckRequests, as Envoy's gRPC client sends them (set no compression in a google_grpc service's channel_args)`,
      );
    case 'truncated':
      return new GatehouseError('input_parse_error', `the gRPC stream ended inside the CheckRequest (${problem.received} of ${problem.declared ?? 'at least 5'} bytes)`);
    case 'missing':
      return new GatehouseError('input_parse_error', 'the gRPC call ended without a CheckRequest message');
    case 'extra':
      return new GatehouseError('input_parse_error', `the gRPC call carried ${problem.bytes} bytes after the CheckRequest (Check takes exactly one message)`);
  }
}

/**
 * The mTLS client's certificate must not be able to sign certificates and, with trust bundles,
 * must come from its own trust domain's CA (identity/client-certificate.ts); then, with
 * tls_allowed_clients, be listed. Either failure is a deny, never a decision.
 */
function clientVerdict(peer: PeerCertificate | undefined, allowed: ReadonlySet<string>, bundles: TrustBundles | undefined): GatehouseError | undefined {
  if (peer?.raw) {
    let problem: string | undefined;
    try {
      problem = clientCertificateProblem(new X509Certificate(peer.raw), bundles);
    } catch (error) {
      problem = `it does not parse: ${describeThrown(error)}`;
    }
    if (problem) return new GatehouseError('client_certificate_invalid', `the client certificate of the caller of gatehouse is refused: ${problem}`);
  }
  return allowed.size > 0 ? clientRejection(peer?.subjectaltname ?? '', allowed) : undefined;
}

/** A client outside tls_allowed_clients gets a deny, like any other failure: never a decision. */
function clientRejection(subjectAltName: string, allowed: ReadonlySet<string>): GatehouseError | undefined {
  const { uris } = subjectAltNames(subjectAltName);
  if (uris.length === 1 && allowed.has(uris[0]!)) return undefined;
  const who = uris.length === 0 ? 'a client without a URI SAN' : `client ${uris.join(', ')}`;
  return new GatehouseError('client_not_allowed', `${who} is not in tls_allowed_clients`);
}

/**
 * Encoded responses of decisions served from the cache. A cached Decision object is shared by
 * every Check it answers, so its response is encoded once, in two parts: the message without
 * `dynamic_metadata`, and the metadata Struct's entries without `decision_id`. Each Check then
 * appends its own `decision_id` entry (a Struct is a list of map entries, so the bytes concatenate)
 * and the `dynamic_metadata` field: one field, valid protobuf, no merging needed by the reader.
 */
const encodedByDecision = new WeakMap<object, Map<string, { message: Buffer; metadataEntries: Buffer }>>();

export function encodeResponse(outcome: Outcome, protos: AuthzProtos, dryRun = false): Buffer {
  try {
    if (outcome.cache !== 'hit' || !outcome.decision) return protos.encodeCheckResponse(toCheckResponse(outcome, dryRun));
    let byShape = encodedByDecision.get(outcome.decision);
    if (!byShape) encodedByDecision.set(outcome.decision, (byShape = new Map()));
    const shape = `${outcome.reasonLabel}:${dryRun}`;
    let parts = byShape.get(shape);
    if (!parts) {
      const response = toCheckResponse(outcome, dryRun, false);
      const metadata = response.dynamicMetadata;
      parts = {
        message: protos.encodeCheckResponse({ ...response, dynamicMetadata: undefined }),
        metadataEntries: metadata ? protos.encodeStruct(metadata) : Buffer.alloc(0),
      };
      byShape.set(shape, parts);
    }
    return withDecisionId(parts.message, parts.metadataEntries, outcome.decisionId);
  } catch {
    // Unreachable unless the response builder has a bug; still a deny, never an RPC error.
    return protos.encodeCheckResponse({
      status: { code: 7, message: 'internal_error' },
      deniedResponse: { status: { code: 500 as never } },
      dynamicMetadata: { fields: { decision_id: { stringValue: outcome.decisionId } } },
    });
  }
}

const DECISION_ID_KEY = 'decision_id';

/**
 * `message` + dynamic_metadata (field 4) = Struct{ `entries` + fields (1) entry {key (1):
 * "decision_id", value (2): Value{string_value (3): id}} }, hand-encoded into one buffer.
 */
function withDecisionId(message: Buffer, entries: Buffer, decisionId: string): Buffer {
  const idLength = Buffer.byteLength(decisionId);
  const valueLength = 1 + varintLength(idLength) + idLength;
  const entryLength = 2 + DECISION_ID_KEY.length + 1 + varintLength(valueLength) + valueLength;
  const structLength = entries.length + 1 + varintLength(entryLength) + entryLength;
  const out = Buffer.allocUnsafe(message.length + 1 + varintLength(structLength) + structLength);
  let at = message.copy(out, 0);
  out[at++] = 0x22;
  at = writeVarint(out, at, structLength);
  at += entries.copy(out, at);
  out[at++] = 0x0a;
  at = writeVarint(out, at, entryLength);
  out[at++] = 0x0a;
  out[at++] = DECISION_ID_KEY.length;
  at += out.write(DECISION_ID_KEY, at, 'latin1');
  out[at++] = 0x12;
  at = writeVarint(out, at, valueLength);
  out[at++] = 0x1a;
  at = writeVarint(out, at, idLength);
  out.write(decisionId, at, 'utf8');
  return out;
}

function varintLength(n: number): number {
  let length = 1;
  while (n > 0x7f) {
    n >>>= 7;
    length++;
  }
  return length;
}

function writeVarint(out: Buffer, at: number, n: number): number {
  while (n > 0x7f) {
    out[at++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[at++] = n;
  return at;
}
