/** A CheckResponse as people and scripts read it (`gatehouse check`, `gatehouse call`). */
import type protobuf from 'protobufjs';
import { structToJson } from '../authz/proto-json.js';
import { authzProtos } from '../grpc/protos.js';

/**
 * The message in proto JSON form (lowerCamelCase names, enums by name, int64 as strings), with
 * `dynamicMetadata` (a google.protobuf.Struct) as plain JSON.
 */
export function responseJson(message: protobuf.Message): Record<string, any> {
  const json = authzProtos().CheckResponse.toObject(message, { enums: String, longs: String, json: true });
  if (json.dynamicMetadata) json.dynamicMetadata = structToJson(json.dynamicMetadata);
  return json;
}
