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
 * (`gatehouse check --request`) and the test catalogue, so that they travel the same decode path
 * as requests from Envoy.
 */
export function fromProtoJson(type: protobuf.Type, json: unknown): Record<string, unknown> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new Error(`${type.fullName}: expected a JSON object`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const field = type.fields[key] ?? Object.values(type.fields).find((f) => snakeCase(f.name) === key);
    if (!field) {
      const hint = closestMatch(key, Object.keys(type.fields), { maxDistance: Math.max(2, Math.floor(key.length / 3)) });
      throw new Error(`${type.fullName}: unknown field "${key}"${hint ? `; did you mean "${hint}"?` : ''}`);
    }
    if (value === null) continue;
    if (field.map) {
      const entries: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as object)) entries[k] = convertField(field, v);
      out[field.name] = entries;
    } else if (field.repeated) {
      if (!Array.isArray(value)) throw new Error(`${type.fullName}.${field.name}: expected an array`);
      out[field.name] = value.map((v) => convertField(field, v));
    } else {
      out[field.name] = convertField(field, value);
    }
  }
  return out;
}

function convertField(field: protobuf.Field, value: unknown): unknown {
  const resolved = field.resolvedType;
  if (!resolved || !('fields' in resolved)) return value; // scalar or enum: fromObject handles it
  const messageType = resolved as protobuf.Type;
  switch (messageType.fullName) {
    case '.google.protobuf.Struct':
      return jsonToStruct(value as JsonObject);
    case '.google.protobuf.Value':
      return jsonToValue(value as Json);
    case '.google.protobuf.ListValue':
      return { values: (value as Json[]).map(jsonToValue) };
    case '.google.protobuf.Timestamp':
      return timestampFromJson(String(value));
    default:
      return fromProtoJson(messageType, value);
  }
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
