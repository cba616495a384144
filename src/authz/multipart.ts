/**
 * A small, strict `multipart/form-data` parser (RFC 7578) for `parsed_body`. Only what a policy
 * needs: each part's form name and its value (parsed as JSON when the part says
 * `application/json`). Anything malformed is an error, which the caller turns into a deny.
 */
import { GatehouseError } from '../errors.js';
import { checkJsonDepth } from './json-depth.js';
import { partIsJson, screenJson, screenPart, type HygieneSettings } from './hygiene/index.js';
import type { Json } from './proto-json.js';

export function parseMultipart(body: string, contentType: string, settings: HygieneSettings): Record<string, Json[]> | null {
  const boundary = mediaTypeParam(contentType, 'boundary');
  if (boundary === undefined) return null; // opa-envoy-plugin: no boundary, no parsed body
  if (boundary === '' || boundary.length > 70) {
    throw new GatehouseError('input_parse_error', 'multipart body has an invalid boundary');
  }
  const delimiter = `--${boundary}`;
  // No prototype: a part named "__proto__" or "constructor" is an ordinary key here.
  const values: Record<string, Json[]> = Object.create(null) as Record<string, Json[]>;
  const chunks = body.split(delimiter);
  // chunks[0] is the preamble; the chunk after the close delimiter starts with "--".
  let closed = false;
  for (let i = 1; i < chunks.length; i++) {
    const chunk = chunks[i]!;
    if (chunk.startsWith('--')) {
      closed = true;
      break;
    }
    if (!chunk.startsWith('\r\n')) throw malformed('delimiter not followed by CRLF');
    const headerEnd = chunk.indexOf('\r\n\r\n');
    if (headerEnd === -1) throw malformed('part without a header block');
    const headers = parsePartHeaders(chunk.slice(2, headerEnd));
    if (!chunk.endsWith('\r\n')) throw malformed('part not terminated by CRLF');
    const content = chunk.slice(headerEnd + 4, chunk.length - 2);
    const name = mediaTypeParam(headers['content-disposition'] ?? '', 'name');
    if (!name) continue;
    screenPart(name, headers, settings);
    let value: Json = content;
    if (partIsJson(headers['content-type'] ?? '', settings)) {
      checkJsonDepth(content, `multipart part "${name}"`, settings.limits.max_json_depth);
      try {
        value = JSON.parse(content) as Json;
      } catch {
        throw malformed(`part "${name}" is not valid JSON`);
      }
      screenJson(content, `multipart part ${JSON.stringify(name)}`, settings);
    }
    (values[name] ??= []).push(value);
  }
  if (!closed) throw malformed('missing closing delimiter');
  return values;
}

function parsePartHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  if (block === '') return headers;
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed('part header without a name');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** A parameter of a media type or Content-Disposition header, unquoted; undefined when absent. */
export function mediaTypeParam(header: string, param: string): string | undefined {
  for (const part of header.split(';').slice(1)) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim().toLowerCase() !== param) continue;
    const raw = part.slice(eq + 1).trim();
    return raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2 ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
  }
  return undefined;
}

function malformed(why: string): GatehouseError {
  return new GatehouseError('input_parse_error', `malformed multipart body: ${why}`);
}
