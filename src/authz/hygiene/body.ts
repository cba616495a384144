/**
 * Hygiene of a body gatehouse is about to parse: the limits (counted on the raw text before any
 * parsing), UTF-8, NUL, and a `_method` form field.
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

/** A multipart part's headers: a transfer encoding some parsers apply (RFC 7578 deprecates it) and others ignore. */
export function screenPart(name: string, headers: Record<string, string>, settings: HygieneSettings): void {
  const encoding = headers['content-transfer-encoding'];
  if (encoding !== undefined && settings.on.has('ambiguous_content_type') && !PLAIN_TRANSFER_ENCODINGS.test(encoding)) {
    throw new HygieneRefusal('ambiguous_content_type', `multipart part ${quote(name)}`, `has content-transfer-encoding ${quote(encoding)}, which some parsers decode and others do not`);
  }
}

/** A parsed multipart form: a `_method` field overrides the method for Rails, Laravel, Symfony. */
export function screenMultipartFields(fields: Record<string, unknown> | null, settings: HygieneSettings): void {
  if (fields && settings.on.has('method_override') && Object.keys(fields).some((key) => key.toLowerCase() === '_method')) {
    throw new HygieneRefusal('method_override', 'multipart field "_method"', 'overrides the method');
  }
}

/** After JSON.parse accepted `text` (a body or a part): a key twice in one object. */
export function screenJson(text: string, part: string, settings: HygieneSettings): void {
  if (!settings.on.has('json_duplicate_key')) return;
  const key = duplicateJsonKey(text);
  if (key !== undefined) throw new HygieneRefusal('json_duplicate_key', part, `has the key ${quote(key)} twice in one object`);
}
