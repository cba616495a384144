/**
 * The proto3 JSON mapping for the well-known types that protobufjs leaves in their message form:
 * google.protobuf.Struct / Value / ListValue (plain JSON), Timestamp (RFC 3339) and Any.
 * https://protobuf.dev/programming-guides/json/
 */
import { closestMatch } from 'leven';
import type protobuf from 'protobufjs';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

interface ValueMessage {
  nullValue?: 0 | "NULL_VALUE";
  numberValue?: number | string;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: { fields?: Record<string, ValueMessage> };
  listValue?: { values?: ValueMessage[] };
}

/** google.protobuf.Struct (as decoded by protobufjs) → plain JSON object. */
export function structToJson(struct: { fields?: Record<string, ValueMessage> } | undefined): JsonObject {
  const out: JsonObject = {};
  const fields = struct?.fields;
  if (!fields) return out;
  for (const key of Object.keys(fields)) out[key] = valueToJson(fields[key]);
  return out;
}

export function valueToJson(value: ValueMessage | undefined): Json {
  if (!value) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.numberValue !== undefined) return Number(value.numberValue);
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.structValue !== undefined) return structToJson(value.structValue);
  if (value.listValue !== undefined) return (value.listValue.values ?? []).map(valueToJson);
  return null;
}

/** Plain JSON → google.protobuf.Struct message object (for CheckResponse dynamic metadata). */
export function jsonToStruct(object: JsonObject): { fields: Record<string, ValueMessage> } {
  const fields: Record<string, ValueMessage> = {};
  for (const key of Object.keys(object)) fields[key] = jsonToValue(object[key] ?? null);
  return { fields };
}

export function jsonToValue(value: Json): ValueMessage {
  if (value === null) return { nullValue: 0 };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(jsonToValue) } };
  return { structValue: jsonToStruct(value) };
}

let lastSeconds = Number.NaN;
let lastBase = '';

/** google.protobuf.Timestamp → RFC 3339 with 0, 3, 6 or 9 fractional digits, as protojson prints. */
export function timestampToJson(ts: { seconds?: string | number; nanos?: number }): string {
  const seconds = Number(ts.seconds ?? 0);
  const nanos = ts.nanos ?? 0;
  // Checks arrive many per second: formatting the date part once per second is enough.
  if (seconds !== lastSeconds) {
    lastSeconds = seconds;
    lastBase = new Date(seconds * 1000).toISOString().slice(0, 19);
  }
  const base = lastBase;
  if (nanos === 0) return `${base}Z`;
  const digits = nanos % 1_000_000 === 0 ? 3 : nanos % 1000 === 0 ? 6 : 9;
  return `${base}.${String(nanos).padStart(9, '0').slice(0, digits)}Z`;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

export function timestampFromJson(text: string): { seconds: number; nanos: number } {
  const match = RFC3339.exec(text);
  if (!match) throw new Error(`invalid RFC 3339 timestamp "${text}"`);
  const millis = Date.parse(`${match[1]}${match[3]}`);
  if (Number.isNaN(millis)) throw new Error(`invalid RFC 3339 timestamp "${text}"`);
  return { seconds: Math.floor(millis / 1000), nanos: Number((match[2] ?? '').padEnd(9, '0')) };
}

/**
 * Proto3 JSON (either the JSON names or the original snake_case names, as protojson accepts) →
 * an object protobufjs' `Type.fromObject` understands. Used to read CheckRequests written by hand
 * (`gatehouse check --request`, `gatehouse call --request`, decision tables) and the test
 * catalogue, so that they travel the same decode path as requests from Envoy.
 *
 * Values are checked by the proto3 JSON rules, since `fromObject` would coerce a value of the
 * wrong type into some other request (a list for a map, "abc" for an int64 → 0, a port over
 * 2^32 wrapped): strings, true/false, integers as numbers or decimal strings within the field's
 * range, floats as numbers or "NaN"/"Infinity"/"-Infinity", enums by name or number, bytes as
 * standard or URL-safe base64, maps as JSON objects. Throws an Error naming the field
 * (`.envoy.service.auth.v3.AttributeContext.HttpRequest.size: expected an integer (int64), got "abc"`).
 */
export function fromProtoJson(type: protobuf.Type, json: unknown, where: string = type.fullName): Record<string, unknown> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new Error(`${where}: expected a JSON object`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const field = type.fields[key] ?? Object.values(type.fields).find((f) => snakeCase(f.name) === key);
    if (!field) {
      const hint = closestMatch(key, Object.keys(type.fields), { maxDistance: Math.max(2, Math.floor(key.length / 3)) });
      throw new Error(`${type.fullName}: unknown field "${key}"${hint ? `; did you mean "${hint}"?` : ''}`);
    }
    if (value === null) continue;
    const path = `${type.fullName}.${field.name}`;
    if (field.map) {
      if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`${path}: expected a JSON object (name: value), got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
      const entries: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as object)) entries[k] = convertField(field, v, `${path}[${JSON.stringify(k)}]`);
      out[field.name] = entries;
    } else if (field.repeated) {
      if (!Array.isArray(value)) throw new Error(`${path}: expected an array`);
      out[field.name] = value.map((v, i) => convertField(field, v, `${path}[${i}]`));
    } else {
      out[field.name] = convertField(field, value, path);
    }
  }
  return out;
}

function convertField(field: protobuf.Field, value: unknown, where: string): unknown {
  const resolved = field.resolvedType;
  if (!resolved) return scalar(field.type, value, where);
  if (!('fields' in resolved)) return enumValue(resolved as protobuf.Enum, value, where);
  const messageType = resolved as protobuf.Type;
  switch (messageType.fullName) {
    case '.google.protobuf.Struct':
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where}: expected a JSON object`);
      return jsonToStruct(value as JsonObject);
    case '.google.protobuf.Value':
      return jsonToValue(value as Json);
    case '.google.protobuf.ListValue':
      if (!Array.isArray(value)) throw new Error(`${where}: expected an array`);
      return { values: (value as Json[]).map(jsonToValue) };
    case '.google.protobuf.Timestamp':
      if (typeof value !== 'string') throw new Error(`${where}: expected an RFC 3339 timestamp string, got ${JSON.stringify(value)}`);
      try {
        return timestampFromJson(value);
      } catch (error) {
        throw new Error(`${where}: ${(error as Error).message}`);
      }
    default:
      return fromProtoJson(messageType, value, where);
  }
}

/** Integer ranges of the proto3 scalar types. */
const INTEGER_RANGE: Record<string, [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n], sint32: [-(2n ** 31n), 2n ** 31n - 1n], sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n], fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n], sint64: [-(2n ** 63n), 2n ** 63n - 1n], sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n], fixed64: [0n, 2n ** 64n - 1n],
};

/** A scalar field's JSON value, checked; returned in the form `fromObject` takes. */
function scalar(type: string, value: unknown, where: string): unknown {
  const got = JSON.stringify(value);
  switch (type) {
    case 'string':
      if (typeof value !== 'string') throw new Error(`${where}: expected a string, got ${got}`);
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw new Error(`${where}: expected true or false, got ${got}`);
      return value;
    case 'bytes':
      // Standard or URL-safe alphabet, padding optional (protojson reads both); protobufjs reads the standard one.
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value) || value.replace(/=+$/, '').length % 4 === 1) {
        throw new Error(`${where}: expected base64, got ${got}`);
      }
      return value.replaceAll('-', '+').replaceAll('_', '/');
    case 'double':
    case 'float':
      if (typeof value === 'number') return value;
      if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return Number(value);
      if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
      throw new Error(`${where}: expected a number, got ${got}`);
    default: {
      const range = INTEGER_RANGE[type];
      if (!range) return value;
      let integer: bigint | undefined;
      if (typeof value === 'number' && Number.isInteger(value)) integer = BigInt(value);
      else if (typeof value === 'string' && /^-?\d+$/.test(value)) integer = BigInt(value);
      if (integer === undefined || integer < range[0] || integer > range[1]) throw new Error(`${where}: expected an integer (${type}), got ${got}`);
      // 64-bit values as decimal strings (protobufjs reads them exactly); 32-bit ones as numbers.
      return range[1] > 2n ** 32n ? integer.toString() : Number(integer);
    }
  }
}

function enumValue(type: protobuf.Enum, value: unknown, where: string): unknown {
  if (typeof value === 'string' && Object.hasOwn(type.values, value)) return value;
  if (typeof value === 'number' && Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31) return value;
  throw new Error(`${where}: expected one of ${Object.keys(type.values).join(', ')}, got ${JSON.stringify(value)}`);
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
