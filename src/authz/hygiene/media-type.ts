/**
 * Which parser a body gets. strict: the base media type decides (case-insensitive, parameters
 * ignored), parsed by jshttp's content-type (RFC 9110 grammar, the parser Express uses), and the
 * whole JSON family is JSON; a content-type a backend could read as something else is refused
 * (rule ambiguous_content_type). compatible: opa-envoy-plugin's case-insensitive substring
 * match, in its order.
 */
import { parse as parseContentType } from 'content-type';
import { quote, HygieneRefusal } from './refusal.js';
import type { HygieneSettings } from './settings.js';

export type BodyKind = 'json' | 'form' | 'multipart';

/**
 * Framed +json types: a stream of length-prefixed messages (gRPC, gRPC-Web, Connect streaming),
 * not one JSON document. https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md,
 * https://connectrpc.com/docs/protocol/#streaming-request
 */
const FRAMED_JSON = new Set(['application/grpc+json', 'application/grpc-web+json', 'application/connect+json']);

/** The JSON family: application/json, text/json, application/x-json, text/x-json and any type with a +json suffix but the framed ones. */
export function isJsonMediaType(type: string): boolean {
  return type === 'application/json' || type === 'text/json' || type === 'application/x-json' || type === 'text/x-json' || (type.endsWith('+json') && !FRAMED_JSON.has(type));
}

const UTF8_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii']);
/** Parameters whose values may hold "/": URIs (JSON:API's ext and profile), a multipart boundary. */
const SLASH_PARAMETERS: Record<BodyKind, ReadonlySet<string>> = {
  json: new Set(['ext', 'profile']),
  form: new Set(),
  multipart: new Set(['boundary']),
};
/** The media types gatehouse parses, as a substring matcher (opa-envoy-plugin, many backends) finds them. */
const PARSED_TYPES = /application\/json|application\/x-www-form-urlencoded|multipart\/form-data/i;

export function bodyKind(contentType: string, settings: HygieneSettings): BodyKind | undefined {
  if (!settings.strictParsing) return substringKind(contentType.toLowerCase());
  const checked = settings.on.has('ambiguous_content_type');
  let parsed: { type: string; parameters: Record<string, string> };
  try {
    parsed = parseContentType(contentType);
  } catch (error) {
    if (checked) throw new HygieneRefusal('ambiguous_content_type', 'header "content-type"', `${quote(contentType)} is not one valid media type (${(error as Error).message})`);
    return kindOf(contentType.split(';', 1)[0]!.trim().toLowerCase());
  }
  const kind = kindOf(parsed.type);
  if (kind !== undefined && checked) checkParameters(contentType, kind, parsed.parameters);
  return kind;
}

/** Whether a multipart part's own content-type makes its value JSON. */
export function partIsJson(contentType: string, settings: HygieneSettings): boolean {
  if (!settings.strictParsing) return contentType.toLowerCase().includes('application/json');
  if (contentType === '') return false;
  return bodyKind(contentType, settings) === 'json';
}

function kindOf(type: string): BodyKind | undefined {
  if (isJsonMediaType(type)) return 'json';
  if (type === 'application/x-www-form-urlencoded') return 'form';
  if (type === 'multipart/form-data') return 'multipart';
  return undefined;
}

function substringKind(lower: string): BodyKind | undefined {
  if (lower.includes('application/json')) return 'json';
  if (lower.includes('application/x-www-form-urlencoded')) return 'form';
  if (lower.includes('multipart/form-data')) return 'multipart';
  return undefined;
}

function checkParameters(header: string, kind: BodyKind, parameters: Record<string, string>): void {
  const names = Object.keys(parameters);
  const refuse = (why: string): never => {
    throw new HygieneRefusal('ambiguous_content_type', 'header "content-type"', `${quote(header)} ${why}`);
  };
  // Ordinary parameters (odata.metadata=minimal, compatible-with=8, version=2) are fine; a value
  // that names a media type is what a substring matcher reads as the type.
  for (const name of names) {
    const value = parameters[name]!;
    if (!value.includes('/')) continue;
    if (!SLASH_PARAMETERS[kind].has(name) || PARSED_TYPES.test(value)) refuse(`has parameter "${name}" naming a media type, which substring matchers read as the type`);
  }
  const charset = parameters.charset;
  if (charset !== undefined && !UTF8_CHARSETS.has(charset.toLowerCase())) refuse(`declares charset ${quote(charset)}; only UTF-8 bodies are parsed`);
  // The parser keeps the last of a repeated parameter; a backend may keep the first.
  if (unquotedEquals(header) !== names.length) refuse('repeats a parameter');
}

/** Parameters in an already validated header: one "=" each outside quoted strings. */
function unquotedEquals(header: string): number {
  let count = 0;
  let quoted = false;
  for (let i = 0; i < header.length; i++) {
    const c = header.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c) i++;
      else if (c === 0x22) quoted = false;
    } else if (c === 0x22) quoted = true;
    else if (c === 0x3d) count++;
  }
  return count;
}
