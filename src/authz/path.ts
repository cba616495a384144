/**
 * `parsed_path` and `parsed_query` from Envoy's `request.http.path`, which carries the path and
 * the query, undecoded (https://www.envoyproxy.io/docs/envoy/latest/api-v3/service/auth/v3/attribute_context.proto).
 *
 * Where opa-envoy-plugin is unsafe, gatehouse differs on purpose (docs/input.md):
 * - it splits on `/` *before* percent-decoding, so `%2F` stays inside a segment instead of
 *   becoming a separator that a prefix rule would trust;
 * - a `.` or `..` segment (raw, as `%2e`, or with `;` path parameters: `..;x`) is a malformed
 *   request, not a segment a policy might prefix-match past;
 * - invalid percent escapes and invalid UTF-8 are malformed requests, never silently dropped.
 */
import { GatehouseError } from '../errors.js';

export interface ParsedTarget {
  parsedPath: string[];
  parsedQuery: Record<string, string[]>;
}

export function parseRequestTarget(rawPath: string | undefined): ParsedTarget {
  if (rawPath === undefined || rawPath === '') {
    throw new GatehouseError('input_parse_error', 'request.http.path is empty');
  }
  if (rawPath[0] !== '/') {
    throw new GatehouseError('input_parse_error', `request.http.path is not an absolute path: ${preview(rawPath)}`);
  }
  const { pathPart, queryPart } = splitTarget(rawPath);
  return { parsedPath: parsePath(pathPart), parsedQuery: parseQueryString(queryPart, 'query') };
}

/** The path and the query of a request target, undecoded; the fragment dropped. */
export function splitTarget(rawPath: string): { pathPart: string; queryPart: string } {
  const hash = rawPath.indexOf('#');
  const target = hash === -1 ? rawPath : rawPath.slice(0, hash);
  const question = target.indexOf('?');
  return { pathPart: question === -1 ? target : target.slice(0, question), queryPart: question === -1 ? '' : target.slice(question + 1) };
}

function parsePath(path: string): string[] {
  let start = 0;
  while (start < path.length && path.charCodeAt(start) === 0x2f) start++; // strip leading '/'
  const segments = path.slice(start).split('/');
  for (let i = 0; i < segments.length; i++) {
    const segment = decodeComponent(segments[i]!, 'path');
    // "..;x" is ".." to servers that strip path parameters (Tomcat, Jetty, Spring): refuse it too.
    const semicolon = segment.indexOf(';');
    const bare = semicolon === -1 ? segment : segment.slice(0, semicolon);
    if (bare === '.' || bare === '..') {
      throw new GatehouseError('input_parse_error', `request.http.path contains a "${bare}" segment: ${preview(path)}`);
    }
    segments[i] = segment;
  }
  return segments;
}

/**
 * `application/x-www-form-urlencoded` parsing (used for the query and for form bodies): `&`
 * separates pairs, the first `=` separates key and value, `+` is a space. Keys keep the order of
 * first appearance; repeated keys collect their values in order.
 */
export function parseQueryString(text: string, what: 'query' | 'body'): Record<string, string[]> {
  // No prototype: a key such as "__proto__" or "constructor" is an ordinary key here.
  const out: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  if (text === '') return out;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decodeComponent((eq === -1 ? pair : pair.slice(0, eq)).replaceAll('+', ' '), what);
    const value = eq === -1 ? '' : decodeComponent(pair.slice(eq + 1).replaceAll('+', ' '), what);
    const values = out[key];
    if (values) values.push(value);
    else out[key] = [value];
  }
  return out;
}

function decodeComponent(text: string, what: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    throw new GatehouseError('input_parse_error', `invalid percent-encoding in ${what}: ${preview(text)}`);
  }
}

function preview(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}
