/**
 * What a policy returns at the entrypoint → a validated Decision. The accepted shape is
 * opa-envoy-plugin's (a boolean, or an object with `allowed` and optional response fields), plus
 * gatehouse's optional `reason`. Anything else is a deny (`decision_invalid` /
 * `decision_undefined`), never an allow.
 */
import { GatehouseError } from '../errors.js';
import type { JsonObject } from './proto-json.js';

export type HeaderPair = readonly [name: string, value: string];

export interface Decision {
  allowed: boolean;
  /** Allow: set on the upstream request. Deny: sent to the caller. */
  headers: HeaderPair[];
  /** Allow only: added to the response sent back to the caller. */
  responseHeadersToAdd: HeaderPair[];
  requestHeadersToRemove: string[];
  queryParametersToSet: HeaderPair[];
  queryParametersToRemove: string[];
  body: string;
  /** Deny only; 403 unless the policy says otherwise. */
  httpStatus: number;
  dynamicMetadata: JsonObject | undefined;
  /** gatehouse extension: why, in words, for the decision log and dynamic metadata. */
  reason: string | undefined;
}

// RFC 9110 token characters; Envoy rejects other header names.
const HEADER_NAME = /^:?[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// No control characters but tab (RFC 9110 section 5.5): CR, LF and NUL split or truncate the
// header, and hops disagree on the others (some refuse the message, some pass it on).
const FORBIDDEN_VALUE_CHARS = /[\x00-\x08\x0a-\x1f\x7f]/;
const MAX_HEADER_VALUE_BYTES = 16 * 1024;

/**
 * Fields that carry one value. Envoy joins several values of a name into one field line with ","
 * for its built-in headers (docs/decision.md#header-maps), which for these gives one broken value
 * (`location: /a,/b`, `host: a,b`), so several values are refused.
 */
const SINGLE_VALUE_HEADERS: ReadonlySet<string> = new Set([
  ':authority', ':method', ':path', ':scheme', ':status', 'host', 'location', 'content-type', 'content-location',
  'content-range', 'authorization', 'proxy-authorization', 'cookie', 'etag', 'last-modified', 'date', 'expires',
  'retry-after', 'age', 'max-forwards', 'referer', 'user-agent', 'from', 'if-modified-since', 'if-unmodified-since',
  'if-range', 'access-control-allow-origin', 'access-control-max-age', 'access-control-allow-credentials',
]);

/**
 * Fields that say how a message is framed or how the connection is used: Envoy sets them, and a
 * policy's value would make the client or the upstream read the message differently than Envoy
 * sends it (a wrong content-length truncates the response or smuggles a second one).
 */
const FRAMING_HEADERS: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te']);

/** Evaluation results as opa-wasm returns them: `[]` when undefined, `[{result}]` when defined. */
export function decisionFromResultSet(resultSet: unknown): Decision {
  if (!Array.isArray(resultSet) || resultSet.length === 0) {
    throw new GatehouseError('decision_undefined', 'the policy decision is undefined (no rule at the entrypoint matched and there is no default)');
  }
  if (resultSet.length > 1) throw invalid(`the policy returned ${resultSet.length} results; expected one`);
  const first = resultSet[0] as { result?: unknown };
  if (first === null || typeof first !== 'object' || !('result' in first)) {
    throw new GatehouseError('decision_undefined', 'the policy decision is undefined');
  }
  return validateDecision(first.result);
}

export function validateDecision(value: unknown): Decision {
  if (typeof value === 'boolean') return emptyDecision(value);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid(`the decision must be a boolean or an object with "allowed", got ${describe(value)}`);
  }
  const object = value as Record<string, unknown>;
  if (typeof object.allowed !== 'boolean') {
    throw invalid(`decision.allowed must be a boolean, got ${describe(object.allowed)}`);
  }
  // Other fields are ignored, as opa-envoy-plugin does (they still appear in the decision log).
  const decision = emptyDecision(object.allowed);
  const emptied: string[] = [];
  decision.headers = headerPairs(object.headers, 'headers', emptied);
  decision.responseHeadersToAdd = headerPairs(object.response_headers_to_add, 'response_headers_to_add', []);
  decision.requestHeadersToRemove = stringList(object.request_headers_to_remove, 'request_headers_to_remove', true);
  for (const name of decision.requestHeadersToRemove) {
    if (!removable(name)) throw invalid(`decision.request_headers_to_remove has ${JSON.stringify(name)}; Envoy cannot remove a pseudo-header or host`);
  }
  // An allow's `headers` with an empty list for a name: the upstream gets no such header, not the
  // client's (the policy meant "none"; leaving the client's in place would forward a forged value).
  if (decision.allowed) {
    for (const name of emptied) {
      if (decision.headers.some(([key]) => key === name) || decision.requestHeadersToRemove.includes(name)) continue;
      if (!removable(name)) throw invalid(`decision.headers["${name}"] is an empty list; Envoy cannot remove a pseudo-header or host`);
      decision.requestHeadersToRemove.push(name);
    }
  }
  decision.queryParametersToSet = pairs(object.query_parameters_to_set, 'query_parameters_to_set', false);
  decision.queryParametersToRemove = stringList(object.query_parameters_to_remove, 'query_parameters_to_remove', false);
  if (object.body !== undefined) {
    if (typeof object.body !== 'string') throw invalid(`decision.body must be a string, got ${describe(object.body)}`);
    decision.body = object.body;
  }
  if (object.http_status !== undefined) decision.httpStatus = httpStatus(object.http_status, object.allowed);
  if (object.dynamic_metadata !== undefined) {
    const metadata = object.dynamic_metadata;
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw invalid(`decision.dynamic_metadata must be an object, got ${describe(metadata)}`);
    }
    decision.dynamicMetadata = metadata as JsonObject;
  }
  if (object.reason !== undefined) {
    if (typeof object.reason !== 'string') throw invalid(`decision.reason must be a string, got ${describe(object.reason)}`);
    decision.reason = object.reason;
  }
  return decision;
}

function emptyDecision(allowed: boolean): Decision {
  return {
    allowed,
    headers: [],
    responseHeadersToAdd: [],
    requestHeadersToRemove: [],
    queryParametersToSet: [],
    queryParametersToRemove: [],
    body: '',
    httpStatus: 403,
    dynamicMetadata: undefined,
    reason: undefined,
  };
}

/** The codes of Envoy's envoy.type.v3.StatusCode enum (`defined_only`): the statuses Envoy can send. */
const ENVOY_STATUS_CODES: ReadonlySet<number> = new Set([
  100, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403,
  404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 423, 424, 426, 428, 429, 431, 500,
  501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

/** A deny must not look like success to the caller, so it needs a 3xx, 4xx or 5xx status. */
function httpStatus(value: unknown, allowed: boolean): number {
  if (typeof value !== 'number' || !ENVOY_STATUS_CODES.has(value)) {
    throw invalid(`decision.http_status must be an HTTP status code Envoy supports (e.g. 403), got ${describe(value)}`);
  }
  if (!allowed && value < 300) throw invalid(`decision.http_status ${value} on a deny would look like success; use 3xx, 4xx or 5xx`);
  return value;
}

function headerPairs(value: unknown, field: string, emptied: string[]): HeaderPair[] {
  const result = pairs(value, field, true, emptied);
  const counts = new Map<string, number>();
  for (const [name, headerValue] of result) {
    if (FORBIDDEN_VALUE_CHARS.test(headerValue) || Buffer.byteLength(headerValue) > MAX_HEADER_VALUE_BYTES) {
      throw invalid(`decision.${field}["${name}"] has a value with CR, LF or NUL or another control character (all but tab are refused), or longer than ${MAX_HEADER_VALUE_BYTES} bytes`);
    }
    if (FRAMING_HEADERS.has(name)) throw invalid(`decision.${field} sets ${name}; Envoy frames the message itself and a policy may not set ${[...FRAMING_HEADERS].join(', ')}`);
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  for (const [name, count] of counts) {
    if (count > 1 && SINGLE_VALUE_HEADERS.has(name)) {
      throw invalid(`decision.${field}["${name}"] has ${count} values; ${name} carries one value (Envoy would join them into one with ",")`);
    }
  }
  return result;
}

/** Envoy refuses to remove pseudo-headers and host (ext_authz `headers_to_remove`). */
function removable(name: string): boolean {
  return !name.startsWith(':') && name !== 'host';
}

/**
 * A map of name → string | string[], or a list of such maps (opa-envoy-plugin accepts both).
 * Repeated names become repeated entries, in order; a name with an empty list gives no entry and
 * is reported in `emptied`.
 */
function pairs(value: unknown, field: string, isHeader: boolean, emptied?: string[]): HeaderPair[] {
  if (value === undefined) return [];
  const maps = Array.isArray(value) ? value : [value];
  const out: HeaderPair[] = [];
  for (const map of maps) {
    if (map === null || typeof map !== 'object' || Array.isArray(map)) {
      throw invalid(`decision.${field} must be an object (or a list of objects), got ${describe(map)}`);
    }
    for (const [name, raw] of Object.entries(map as Record<string, unknown>)) {
      if (isHeader ? !HEADER_NAME.test(name) : name === '') throw invalid(`decision.${field} has an invalid name ${JSON.stringify(name)}`);
      const values = Array.isArray(raw) ? raw : [raw];
      if (values.length === 0) emptied?.push(isHeader ? name.toLowerCase() : name);
      for (const v of values) {
        if (typeof v !== 'string') throw invalid(`decision.${field}["${name}"] must be a string or a list of strings, got ${describe(v)}`);
        out.push([isHeader ? name.toLowerCase() : name, v]);
      }
    }
  }
  return out;
}

function stringList(value: unknown, field: string, isHeader: boolean): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(`decision.${field} must be a list of strings, got ${describe(value)}`);
  return value.map((v) => {
    if (typeof v !== 'string' || v === '' || (isHeader && !HEADER_NAME.test(v))) {
      throw invalid(`decision.${field} has an invalid entry ${describe(v)}`);
    }
    return isHeader ? v.toLowerCase() : v;
  });
}

function invalid(message: string): GatehouseError {
  return new GatehouseError('decision_invalid', message);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return `${Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value} ${text.length > 80 ? `${text.slice(0, 80)}…` : text}`;
}
