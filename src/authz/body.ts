/**
 * `parsed_body` and `truncated_body`, compatible with opa-envoy-plugin: the body comes from
 * `request.http.body`, else `raw_body`; it is parsed by content type (JSON, form, multipart) and
 * left unparsed (null) when Envoy sent only part of it.
 */
import { GatehouseError } from '../errors.js';
import { bodyKind, screenBody, screenJson, screenMultipartFields, screenQuery, STRICT, type HygieneSettings } from './hygiene/index.js';
import { parseJson } from './json-depth.js';
import { multipartBoundary, parseMultipart } from './multipart.js';
import { parseQueryString } from './path.js';
import type { Json } from './proto-json.js';

export interface ParsedBody {
  parsedBody: Json;
  truncatedBody: boolean;
}

export interface BodyLimits {
  /** Bodies longer than this many bytes are not parsed: the Check is denied (body_too_large). */
  maxBodyBytes: number;
  /** Request hygiene and limits; strict with the default limits when absent. */
  hygiene?: HygieneSettings;
}

const NO_BODY: ParsedBody = { parsedBody: null, truncatedBody: false };

export function parseBody(
  headers: Record<string, string>,
  body: string | undefined,
  rawBodyBase64: string | undefined,
  limits: BodyLimits,
): ParsedBody {
  let text = body ?? '';
  let raw: Buffer | undefined;
  if (text === '' && rawBodyBase64) {
    raw = Buffer.from(rawBodyBase64, 'base64');
    text = raw.toString('utf8');
  }
  if (text === '') return NO_BODY;
  // Every body is limited, parsed or not: it is part of the input the policy evaluates.
  const byteLength = Buffer.byteLength(text, 'utf8');
  if (byteLength > limits.maxBodyBytes) {
    throw new GatehouseError(
      'body_too_large',
      `request body is ${byteLength} bytes, over max_body_bytes (${limits.maxBodyBytes})`,
    );
  }

  const contentType = headers['content-type'];
  if (contentType === undefined) return NO_BODY;
  const settings = limits.hygiene ?? STRICT;
  const kind = bodyKind(contentType, settings);
  if (kind === undefined) return NO_BODY;
  if (isTruncated(headers, byteLength)) return { parsedBody: null, truncatedBody: true };
  const boundary = kind === 'multipart' ? multipartBoundary(contentType) : undefined;
  screenBody(kind, text, raw, boundary, settings);

  const maxDepth = settings.limits.max_json_depth;
  switch (kind) {
    case 'json': {
      const parsed = parseJson(text, 'request body', maxDepth);
      screenJson(text, 'json body', settings, parsed);
      return { parsedBody: parsed, truncatedBody: false };
    }
    case 'form': {
      const form = parseQueryString(text, 'body');
      screenQuery(text, form, settings, 'form body');
      return { parsedBody: form, truncatedBody: false };
    }
    case 'multipart': {
      const fields = parseMultipart(text, boundary, settings);
      screenMultipartFields(fields, settings);
      return { parsedBody: fields, truncatedBody: false };
    }
  }
}

/**
 * Envoy marks a partial body with `x-envoy-auth-partial-body: true` (when `allow_partial_message`
 * is on); opa-envoy-plugin also compares `content-length` with the bytes received.
 */
function isTruncated(headers: Record<string, string>, receivedBytes: number): boolean {
  if (headers['x-envoy-auth-partial-body'] === 'true') return true;
  const contentLength = headers['content-length'];
  if (contentLength === undefined) return false;
  if (!/^\d{1,15}$/.test(contentLength.trim())) {
    throw new GatehouseError('input_parse_error', `invalid content-length header: ${JSON.stringify(contentLength.slice(0, 40))}`);
  }
  return Number(contentLength) > receivedBytes;
}
