/**
 * Hygiene of a body gatehouse is about to parse: the limits (counted on the raw text before any
 * parsing), UTF-8, NUL, and a `_method` field.
 */
import { isUtf8 } from 'node:buffer';
import { duplicateJsonKey } from './json-keys.js';
import { count } from './request.js';
import { quote, HygieneRefusal } from './refusal.js';
import type { BodyKind } from './media-type.js';
import type { HygieneSettings } from './settings.js';
import { REPLACEMENT } from './text.js';

/**
 * Before parsing. `raw` is the body's bytes when Envoy sent `raw_body` (undefined when it sent the
 * `body` string, which was decoded from the wire already).
 */
export function screenBody(kind: BodyKind, text: string, raw: Buffer | undefined, boundary: string | undefined, settings: HygieneSettings): void {
  const limits = settings.limits;
  if (kind === 'form') {
    const fields = count(text, 0x26, 0, text.length) + count(text, 0x3b, 0, text.length) + 1;
    if (fields > limits.max_form_fields) {
      throw new HygieneRefusal('too_many_form_fields', 'form body', `has ${fields} fields, over max_form_fields (${limits.max_form_fields})`);
    }
  } else if (kind === 'multipart' && boundary) {
    const parts = occurrences(text, `--${boundary}`) - 1;
    if (parts > limits.max_multipart_parts) {
      throw new HygieneRefusal('too_many_multipart_parts', 'multipart body', `has ${parts} parts, over max_multipart_parts (${limits.max_multipart_parts})`);
    }
  }
  const on = settings.on;
  if (kind === 'multipart' || on.size === 0) return; // multipart may carry binary files
  if (on.has('invalid_utf8') && (raw ? !isUtf8(raw) : text.includes(REPLACEMENT))) {
    throw new HygieneRefusal('invalid_utf8', `${kind} body`, 'is not UTF-8');
  }
  if (kind === 'json' && on.has('control_character') && hasJsonNul(text)) {
    throw new HygieneRefusal('control_character', 'json body', 'holds a NUL character (\\u0000) in a string');
  }
}

function occurrences(text: string, needle: string): number {
  let n = 0;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) n++;
  return n;
}

/** A `\u0000` escape in a JSON text (raw NUL is not valid JSON); escaped backslashes skipped. */
function hasJsonNul(text: string): boolean {
  if (!text.includes('\\u0000')) return false;
  for (let i = text.indexOf('\\'); i !== -1 && i < text.length; i = text.indexOf('\\', i + 2)) {
    if (text.startsWith('u0000', i + 1)) return true;
  }
  return false;
}

const PLAIN_TRANSFER_ENCODINGS = /^\s*(7bit|8bit|binary)\s*$/i;
const BRACKET = /[[\]]/;

/** A part's Content-Disposition as multipart.ts parsed it (Go's mime.ParseMediaType semantics). */
export interface PartDisposition {
  readonly type: string;
  readonly params: ReadonlyMap<string, string>;
  /** Parameter names with "*" (RFC 2231). */
  readonly extended: readonly string[];
  /** Why the header is not valid; params are empty then. */
  readonly error?: string;
}

/**
 * A multipart part's headers. `repeated` is a header name the part has twice, `disposition` the
 * raw Content-Disposition and `parsed` its parse. Parsers disagree on repeated headers and
 * parameters, RFC 2231 `name*`, escapes and ";" inside quoted values (Werkzeug reads
 * `name="safe"; name="role"` as "role"), and a transfer encoding some apply (RFC 7578 deprecates
 * it) and others ignore.
 */
export function screenPart(headers: Record<string, string>, repeated: string | undefined, disposition: string | undefined, parsed: PartDisposition | undefined, settings: HygieneSettings): void {
  const on = settings.on;
  if (on.size === 0) return;
  const name = parsed?.params.get('name');
  const part = name === undefined ? 'multipart part' : `multipart part ${quote(name)}`;
  if (on.has('ambiguous_multipart_part')) {
    const refuse = (why: string): never => {
      throw new HygieneRefusal('ambiguous_multipart_part', part, why);
    };
    if (repeated !== undefined) refuse(`has the header ${quote(repeated)} twice; parsers keep the first or the last`);
    if (disposition !== undefined && parsed !== undefined) {
      if (parsed.error !== undefined) refuse(`has a content-disposition that ${parsed.error}: ${quote(disposition)}`);
      if (parsed.type !== 'form-data') refuse(`has a ${quote(parsed.type)} disposition, not form-data`);
      if (parsed.extended.length > 0) refuse(`has the RFC 2231 parameter ${quote(parsed.extended[0]!)}, which parsers decode differently or ignore`);
      if (disposition.includes('\\')) refuse('has a backslash in its content-disposition, which parsers unescape differently');
      for (const [key, value] of parsed.params) {
        if (value.includes(';')) refuse(`has a ";" inside the ${quote(key)} parameter, where parsers that split on ";" find another parameter`);
      }
    }
  }
  const encoding = headers['content-transfer-encoding'];
  if (encoding !== undefined && on.has('ambiguous_content_type') && !PLAIN_TRANSFER_ENCODINGS.test(encoding)) {
    throw new HygieneRefusal('ambiguous_content_type', part, `has content-transfer-encoding ${quote(encoding)}, which some parsers decode and others do not`);
  }
  if (name !== undefined && on.has('bracketed_parameter_name') && BRACKET.test(name)) {
    throw new HygieneRefusal('bracketed_parameter_name', part, 'has "[" or "]" in its name, which PHP, Rails and qs turn into a nested or array field');
  }
}

/** A parsed multipart form: a `_method` field overrides the method for Rails, Laravel, Symfony. */
export function screenMultipartFields(fields: Record<string, unknown> | null, settings: HygieneSettings): void {
  if (fields && settings.on.has('method_override') && Object.keys(fields).some((key) => key.toLowerCase() === '_method')) {
    throw new HygieneRefusal('method_override', 'multipart field "_method"', 'overrides the method');
  }
}

/**
 * After JSON.parse accepted `text` (a body or a part): a key twice in one object (compared as
 * Go's encoding/json compares them), and in `body` (the parsed body; undefined for a multipart
 * part) a top-level `_method` key: Laravel reads a JSON body as form input, so it overrides the
 * method like a form field.
 */
export function screenJson(text: string, part: string, settings: HygieneSettings, body?: unknown): void {
  const on = settings.on;
  if (on.size === 0) return;
  if (on.has('json_duplicate_key')) {
    const duplicate = duplicateJsonKey(text);
    if (duplicate !== undefined) {
      const why = duplicate.key === duplicate.first
        ? `has the key ${quote(duplicate.key)} twice in one object`
        : `has the keys ${quote(duplicate.first)} and ${quote(duplicate.key)} in one object, one key to case-insensitive parsers (Go's encoding/json)`;
      throw new HygieneRefusal('json_duplicate_key', part, why);
    }
  }
  // One scan for the clean case; the keys are looked at only when the text mentions _method.
  if (on.has('method_override') && body !== null && typeof body === 'object' && !Array.isArray(body) && METHOD_KEY.test(text)) {
    for (const key of Object.keys(body)) {
      if (key.length === 7 && key.toLowerCase() === '_method') throw new HygieneRefusal('method_override', `${part} key ${quote(key)}`, 'overrides the method');
    }
  }
}

const METHOD_KEY = /_method/i;
