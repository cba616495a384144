/**
 * The request-hygiene case catalogue (test/cases/hygiene/cases.json) turned into CheckRequests:
 * proto JSON for the CLI, protobuf bytes (with raw invalid-UTF-8 bytes spliced in) for the pipeline
 * and a running server.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { RequestShorthand } from '../../src/commands/common.js';
import { checkRequestJson, encodeRequest } from './requests.js';
import { ROOT } from './tools.js';

export const HYGIENE_DIR = path.join(ROOT, 'test/cases/hygiene');

export interface RequestSpec extends Partial<Omit<RequestShorthand, 'headers'>> {
  headers?: Record<string, string | null> | null;
  host?: string;
  header_map?: { key: string; value?: string; rawValue?: string }[];
  raw_body?: string;
  generate_headers?: [number, number];
}

export interface RefusedCase {
  class: string;
  name: string;
  example?: boolean;
  request: RequestSpec;
  bytes?: Record<string, string>;
  rule?: string;
  status?: number;
  part?: string;
  /** Without a rule: the reason label strict answers with (the policy's deny, or a parse error). */
  expect?: 'policy_denied' | 'input_parse_error';
  reason?: string;
  compatible: 'allow' | 'deny';
  /** compatible: 'deny' without a limit rule: what the deny's reason holds. */
  compatible_reason?: string;
  canonical?: RequestSpec;
}

export interface CleanCase {
  name: string;
  request: RequestSpec;
}

export const HYGIENE_CASES = JSON.parse(readFileSync(path.join(HYGIENE_DIR, 'cases.json'), 'utf8')) as { refused: RefusedCase[]; clean: CleanCase[] };

/** `{{repeat:N:text}}` → text repeated N times, in every string of `value`. */
function expand<T>(value: T): T {
  if (typeof value === 'string') return value.replace(/\{\{repeat:(\d+):([\s\S]*?)\}\}/g, (_m, n: string, text: string) => text.repeat(Number(n))) as T;
  if (Array.isArray(value)) return value.map(expand) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expand(v)])) as T;
  return value;
}

/** The spec as a CheckRequest in Envoy's proto JSON form, filled out as Envoy fills it. */
export function hygieneRequestJson(spec: RequestSpec): Record<string, any> {
  const { host, header_map, raw_body, generate_headers, headers, ...shorthand } = expand(spec);
  const json = checkRequestJson({ ...shorthand, headers: {} }) as Record<string, any>;
  const http = json.attributes.request.http;
  if (host !== undefined) {
    http.host = host;
    http.headers[':authority'] = host;
  }
  if (headers === null) delete http.headers;
  else for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === null) delete http.headers[name];
    else http.headers[name] = value;
  }
  if (generate_headers) for (let i = 0; i < generate_headers[0]; i++) http.headers[`x-filler-${i}`] = 'v'.repeat(generate_headers[1]);
  if (header_map) http.headerMap = { headers: header_map };
  if (raw_body !== undefined) http.rawBody = raw_body;
  return json;
}

/** Protobuf bytes; each placeholder of `bytes` is replaced by raw bytes of the same length. */
export function hygieneRequestBytes(spec: RequestSpec, bytes: Record<string, string> = {}): Buffer {
  const encoded = encodeRequest(hygieneRequestJson(spec));
  for (const [placeholder, hex] of Object.entries(bytes)) {
    const from = Buffer.from(placeholder, 'utf8');
    const to = Buffer.from(hex, 'hex');
    if (from.length !== to.length) throw new Error(`placeholder ${placeholder} and ${hex} differ in length`);
    for (let at = encoded.indexOf(from); at !== -1; at = encoded.indexOf(from, at + to.length)) to.copy(encoded, at);
  }
  return encoded;
}
