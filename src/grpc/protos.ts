/**
 * Envoy's ext_authz v3 messages, loaded once from the protos that @grpc/grpc-js-xds ships (its
 * `deps/` folders track envoyproxy/data-plane-api), never from hand-copied files.
 *
 * gatehouse decodes CheckRequests itself instead of letting grpc-js do it: a request that fails to
 * decode must become a deny with a reason, and grpc-js would turn a throwing deserializer into an
 * RPC error (which Envoy may treat as allow under `failure_mode_allow`).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';
import { installHttpRequestCodec } from './http-request-codec.js';
import type { CheckRequest__Output } from '../generated/envoy/service/auth/v3/CheckRequest.js';
import type { CheckResponse } from '../generated/envoy/service/auth/v3/CheckResponse.js';

export type { CheckRequest__Output as DecodedCheckRequest } from '../generated/envoy/service/auth/v3/CheckRequest.js';
export type { CheckResponse } from '../generated/envoy/service/auth/v3/CheckResponse.js';

const require = createRequire(import.meta.url);
const depsDir = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const protobufDir = path.dirname(require.resolve('protobufjs/package.json'));

/** Include paths for Envoy's API and its imports (validate, udpa/xds annotations, google.rpc). */
export const PROTO_INCLUDE_DIRS = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) =>
  path.join(depsDir, d),
);
export const AUTHORIZATION_PROTO = 'envoy/service/auth/v3/external_auth.proto';
export const CHECK_METHOD_PATH = '/envoy.service.auth.v3.Authorization/Check';

/**
 * Options that make protobufjs' `toObject` produce the proto3 JSON mapping's field names and
 * scalar forms (lowerCamelCase names, int64 as strings, enums by name, bytes as base64). The
 * well-known types that JSON renders specially (Struct, Timestamp, Any) are converted afterwards
 * in authz/proto-json.ts.
 */
export const TO_OBJECT_OPTIONS: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
  arrays: false,
  objects: false,
  oneofs: false,
  // json: true would make protobufjs expand google.protobuf.Any of known types into its own
  // (non-JSON-mapping) form; Anys are rendered uniformly in authz/input.ts instead.
  json: false,
};

/** The protos; `fastHttpRequest: false` keeps protobufjs' generated HttpRequest decoder (tests compare the two). */
export function loadRoot(options: { fastHttpRequest: boolean } = { fastHttpRequest: true }): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    if (path.isAbsolute(target)) return target;
    for (const dir of PROTO_INCLUDE_DIRS) {
      const candidate = path.join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    // google/protobuf/*.proto (descriptor, struct, ...) ship with protobufjs itself.
    return path.join(protobufDir, target);
  };
  root.loadSync(AUTHORIZATION_PROTO, { keepCase: false });
  root.resolveAll();
  if (options.fastHttpRequest) installHttpRequestCodec(root, TO_OBJECT_OPTIONS);
  return root;
}

export interface AuthzProtos {
  readonly root: protobuf.Root;
  readonly CheckRequest: protobuf.Type;
  readonly CheckResponse: protobuf.Type;
  decodeCheckRequest(bytes: Uint8Array): CheckRequest__Output;
  encodeCheckRequest(request: object): Buffer;
  encodeCheckResponse(response: CheckResponse): Buffer;
  encodeStruct(struct: object): Buffer;
  decodeCheckResponse(bytes: Uint8Array): Record<string, unknown>;
}

let cached: AuthzProtos | undefined;

/**
 * The loaded protos. Loading parses ~60 .proto files (tens of ms), so it happens once per process
 * and the result is immutable; it holds no per-app state, so sharing it does not leak between tests.
 */
export function authzProtos(): AuthzProtos {
  if (cached) return cached;
  const root = loadRoot();
  const CheckRequest = root.lookupType('envoy.service.auth.v3.CheckRequest');
  const CheckResponse = root.lookupType('envoy.service.auth.v3.CheckResponse');
  const Struct = root.lookupType('google.protobuf.Struct');
  cached = {
    root,
    CheckRequest,
    CheckResponse,
    decodeCheckRequest: (bytes) =>
      CheckRequest.toObject(CheckRequest.decode(bytes), TO_OBJECT_OPTIONS) as CheckRequest__Output,
    encodeCheckRequest: (request) => Buffer.from(CheckRequest.encode(CheckRequest.fromObject(request)).finish()),
    encodeCheckResponse: (response) =>
      Buffer.from(CheckResponse.encode(CheckResponse.fromObject(response as object)).finish()),
    encodeStruct: (struct) => Buffer.from(Struct.encode(Struct.fromObject(struct)).finish()),
    decodeCheckResponse: (bytes) =>
      CheckResponse.toObject(CheckResponse.decode(bytes), TO_OBJECT_OPTIONS) as Record<string, unknown>,
  };
  return cached;
}
