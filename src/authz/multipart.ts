/**
 * A small, strict `multipart/form-data` parser (RFC 7578) for `parsed_body`. Only what a policy
 * needs: each part's form name and its value (parsed as JSON when the part says
 * `application/json`). Anything malformed is an error, which the caller turns into a deny.
 *
 * Header parameters (the boundary, a part's Content-Disposition) are read as Go's
 * mime.ParseMediaType reads them, which is what opa-envoy-plugin does: quoted strings respected,
 * a repeated parameter makes the header invalid, RFC 2231 `name*` overrides `name`. In compatible
 * mode a part whose disposition is invalid or not form-data is skipped and the first of a
 * repeated part header counts (Go's textproto); strict refuses all of those
 * (rule ambiguous_multipart_part), since backends (Werkzeug, busboy) resolve them differently.
 *
 * Framing is RFC 2046 section 5.1.1 with CRLF only, in both modes: where Go's reader and busboy
 * disagree (see test/unit/multipart-hostile.test.ts), the body is refused, never read one way.
 * Not a library: busboy reports the end of the body (or its absence) only on a later tick, while
 * buildInput and authorize() are synchronous, and exposes no part headers; the synchronous
 * parsers (multipasta, @remix-run/multipart-parser) skip the two bytes after a delimiter unread,
 * and merge or drop repeated headers, so the rules here could not be enforced on them.
 */
import { GatehouseError } from '../errors.js';
import { parseJson } from './json-depth.js';
import { HygieneRefusal, partIsJson, screenJson, screenPart, type HygieneSettings } from './hygiene/index.js';
import { quote } from './hygiene/refusal.js';
import type { Json } from './proto-json.js';

export function parseMultipart(body: string, boundary: string | undefined, settings: HygieneSettings): Record<string, Json[]> | null {
  if (boundary === undefined) return null; // opa-envoy-plugin: no boundary, no parsed body
  if (boundary === '' || boundary.length > 70) {
    throw new GatehouseError('input_parse_error', 'multipart body has an invalid boundary');
  }
  const delimiter = `--${boundary}`;
  // No prototype: a part named "__proto__" or "constructor" is an ordinary key here.
  const values: Record<string, Json[]> = Object.create(null) as Record<string, Json[]>;
  const chunks = body.split(delimiter);
  // chunks[0] is the preamble; the chunk after the close delimiter starts with "--". RFC 2046
  // section 5.1.1: the first delimiter starts the body or a line (`[preamble CRLF] dash-boundary`);
  // Go and busboy skip a "--boundary" that does not, so a part here would be one they never read.
  if (chunks[0] !== '' && !chunks[0]!.endsWith('\r\n')) throw malformed('first delimiter not at the start of a line');
  let closed = false;
  for (let i = 1; i < chunks.length; i++) {
    const chunk = chunks[i]!;
    if (chunk.startsWith('--')) {
      // close-delimiter [CRLF epilogue]: the epilogue is ignored, as everyone does.
      if (chunk.length > 2 && !chunk.startsWith('--\r\n')) throw malformed('close delimiter not followed by CRLF');
      closed = true;
      break;
    }
    if (!chunk.startsWith('\r\n')) throw malformed('delimiter not followed by CRLF');
    const headerEnd = chunk.indexOf('\r\n\r\n');
    if (headerEnd === -1) throw malformed('part without a header block');
    const { headers, repeated } = parsePartHeaders(chunk.slice(2, headerEnd));
    if (!chunk.endsWith('\r\n')) throw malformed('part not terminated by CRLF');
    // "headers CRLF CRLF --boundary": the blank line's CRLF is also the delimiter's. Go reads an
    // empty part and the next part after it; busboy reads the delimiter as this part's content.
    if (headerEnd + 4 > chunk.length - 2) throw malformed('part headers run into the next delimiter');
    const content = chunk.slice(headerEnd + 4, chunk.length - 2);
    const disposition = headers['content-disposition'];
    const parsed = disposition === undefined ? undefined : parseParameters(disposition);
    screenPart(headers, repeated, disposition, parsed, settings);
    if (parsed?.oddSpace && settings.on.has('ambiguous_multipart_part')) {
      throw new HygieneRefusal('ambiguous_multipart_part', 'multipart part', `has white space other than space and tab in its content-disposition ${quote(disposition!)}, which parsers skip differently`);
    }
    const name = parsed?.error === undefined && parsed?.type === 'form-data' ? parsed.params.get('name') : undefined;
    if (!name) continue;
    // Go's NextPart decodes a quoted-printable part (and only that encoding); gatehouse does not.
    if (headers['content-transfer-encoding']?.toLowerCase() === 'quoted-printable') {
      throw malformed(`part ${JSON.stringify(name)} is quoted-printable, which opa-envoy-plugin decodes and gatehouse does not`);
    }
    let value: Json = content;
    if (isJsonPart(name, headers['content-type'] ?? '', settings)) {
      const what = `multipart part ${JSON.stringify(name)}`;
      value = parseJson(content, what, settings.limits.max_json_depth);
      screenJson(content, what, settings);
    }
    (values[name] ??= []).push(value);
  }
  if (!closed) throw malformed('missing closing delimiter');
  return values;
}

/**
 * The part's headers, the first of each name (Go's textproto.MIMEHeader.Get), and the first name
 * repeated. Values are trimmed of spaces and tabs only, as Go's textproto trims them.
 */
function parsePartHeaders(block: string): { headers: Record<string, string>; repeated?: string } {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  let repeated: string | undefined;
  if (block === '') return { headers };
  const lines = block.split('\r\n');
  if (lines.length > GO_MAX_PART_HEADERS) throw malformed(`part with more than ${GO_MAX_PART_HEADERS} header lines (Go's multipart refuses it)`);
  // Go's readMIMEHeader memory account (10 MiB less 400; per new name 200 plus its length; per
  // value its length) can only run out when the block is that large: counted only then.
  let budget = block.length * 3 + 200 * lines.length + 400 > GO_MAX_HEADER_MEMORY ? GO_MAX_HEADER_MEMORY : Infinity;
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed('part header without a name');
    // A bare CR or LF ends a line for Go's textproto and not here; a line starting with white space
    // continues the previous one for Go (obs-fold) and not here; a name that is not a token is
    // read differently again. Refused rather than read one way. Go's textproto also refuses a
    // value with any other control character but HTAB (the whole body is an error for
    // opa-envoy-plugin), which JavaScript's trim() would have dropped.
    if (HEADER_CONTROL.test(line)) throw malformed(/[\r\n]/.test(line) ? 'part header line with a bare CR or LF' : 'part header value with a control character');
    if (!HEADER_NAME.test(line.slice(0, colon))) throw malformed('part header name is not a token (or a folded header line)');
    const name = line.slice(0, colon).toLowerCase();
    const value = trimSpaceTab(line, colon + 1);
    if (budget !== Infinity) {
      if (Buffer.byteLength(line) > budget) throw malformed('part headers over Go\'s 10 MiB limit');
      if (!(name in headers)) budget -= Buffer.byteLength(name) + 200;
      budget -= Buffer.byteLength(value);
      if (budget < 0) throw malformed('part headers over Go\'s 10 MiB limit');
    }
    if (name in headers) repeated ??= name;
    else headers[name] = value;
  }
  return repeated === undefined ? { headers } : { headers, repeated };
}

/** Go's mime/multipart: at most 10000 headers in a part, and 10 MiB (less 400 bytes of overhead) of them. */
const GO_MAX_PART_HEADERS = 10_000;
const GO_MAX_HEADER_MEMORY = (10 << 20) - 400;
/** RFC 9110 token: what Go's textproto and busboy accept as a header name. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Bytes Go's textproto refuses in a header line (validHeaderValueByte): controls but HTAB, and DEL. */
const HEADER_CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

/** line.slice(from) without leading and trailing spaces and tabs (Go's textproto trim). */
function trimSpaceTab(line: string, from: number): string {
  let start = from;
  let end = line.length;
  while (start < end && (line[start] === ' ' || line[start] === '\t')) start++;
  while (end > start && (line[end - 1] === ' ' || line[end - 1] === '\t')) end--;
  return line.slice(start, end);
}

/**
 * Whether the part's value is JSON. opa-envoy-plugin parses a part whose Content-Type contains
 * "application/json" (case-sensitive substring); strict hygiene parses the JSON family by media
 * type. Compatible mode (and strict with ambiguous_content_type allowed) reads as
 * opa-envoy-plugin; strict refuses a part the two would read differently (`Application/JSON`,
 * `application/vnd.api+json`, `text/plain; x="application/json"`).
 */
function isJsonPart(name: string, contentType: string, settings: HygieneSettings): boolean {
  const incumbent = contentType.includes('application/json');
  if (!settings.strictParsing) return incumbent;
  const ours = partIsJson(contentType, settings);
  if (ours !== incumbent && settings.on.has('ambiguous_content_type')) {
    throw new HygieneRefusal('ambiguous_content_type', `multipart part ${quote(name)}`, `has content-type ${quote(contentType)}, which opa-envoy-plugin ${incumbent ? 'parses' : 'does not parse'} as JSON`);
  }
  return incumbent;
}

/** The boundary of a multipart content-type; undefined when it has none. */
export function multipartBoundary(contentType: string): string | undefined {
  const parsed = parseParameters(contentType);
  if (parsed.error !== undefined) throw new GatehouseError('input_parse_error', `multipart content-type ${parsed.error}`);
  return parsed.params.get('boundary');
}

export interface Parameters {
  /** Lower case: "form-data", "multipart/form-data". */
  type: string;
  /** Lower-case names → values unquoted; RFC 2231 `name*` decoded into `name`. */
  params: Map<string, string>;
  /** Names as written that carry a "*" (RFC 2231 extended or continued values). */
  extended: string[];
  /** Why the header is not valid, as Go's mime.ParseMediaType would refuse it. */
  error?: string;
  /** White space other than SP and HTAB was skipped between tokens (U+00A0, U+0085, U+2028...). */
  oddSpace?: boolean;
}

// Go's mime package: a token is printable ASCII without these (RFC 2045 tspecials).
const TSPECIALS = '()<>@,;:\\"/[]?=';
const isTokenChar = (c: string): boolean => c > ' ' && c < '\x7f' && !TSPECIALS.includes(c);
/** Go's unicode.IsSpace, which mime.ParseMediaType skips (JavaScript's \s differs: U+FEFF yes, U+0085 no). */
const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/** `type[/subtype] *(";" name "=" (token | quoted-string))`, read as Go's mime.ParseMediaType. */
export function parseParameters(header: string): Parameters {
  let at = 0;
  const token = (): string => {
    const start = at;
    while (at < header.length && isTokenChar(header[at]!)) at++;
    return header.slice(start, at);
  };
  const result: Parameters = { type: '', params: new Map(), extended: [] };
  const space = (): void => {
    for (; at < header.length && GO_SPACE.test(header[at]!); at++) {
      if (header[at] !== ' ' && header[at] !== '\t') result.oddSpace = true;
    }
  };
  const fail = (why: string): Parameters => ({ ...result, params: new Map(), error: why });
  space();
  let type = token();
  if (header[at] === '/') {
    at++;
    const subtype = token();
    if (subtype === '') return fail('has no valid media type');
    type += `/${subtype}`;
  }
  if (type === '') return fail('has no valid type');
  result.type = type.toLowerCase();
  const pieces = new Map<string, string>();
  for (;;) {
    space();
    if (at >= header.length) break;
    if (header[at] !== ';') return fail('has an invalid parameter');
    at++;
    space();
    if (at >= header.length) break; // a trailing ";" is allowed
    const name = token().toLowerCase();
    space();
    if (name === '' || header[at] !== '=') return fail('has an invalid parameter');
    at++;
    space();
    const value = header[at] === '"' ? quoted() : token();
    if (value === undefined || (value === '' && header[at - 1] !== '"')) return fail('has an invalid parameter value');
    const map = name.includes('*') ? pieces : result.params;
    // Go allows a parameter twice with the same value.
    if (map.has(name) && map.get(name) !== value) return fail(`repeats the parameter ${JSON.stringify(name)}`);
    if (map.has(name)) continue;
    map.set(name, value);
    if (name.includes('*')) result.extended.push(name);
  }
  const bases = new Set([...pieces.keys()].map((name) => name.slice(0, name.indexOf('*'))));
  for (const base of bases) {
    const value = joinExtended(base, pieces);
    if (value !== undefined) result.params.set(base, value);
  }
  return result;

  /** A quoted string; Go unescapes a backslash only before a tspecial. Undefined when unterminated. */
  function quoted(): string | undefined {
    let out = '';
    for (at++; at < header.length; at++) {
      const c = header[at]!;
      if (c === '"') {
        at++;
        return out;
      }
      if (c === '\r' || c === '\n') return undefined;
      if (c === '\\' && at + 1 < header.length && TSPECIALS.includes(header[at + 1]!)) at++;
      out += header[at];
    }
    return undefined;
  }
}

/** RFC 2231 as Go reads it: `base*` (charset'lang'%XX), else `base*0`, `base*1*`... concatenated. */
function joinExtended(base: string, pieces: Map<string, string>): string | undefined {
  const single = pieces.get(`${base}*`);
  if (single !== undefined) return decode2231(single);
  let out: string | undefined;
  for (let n = 0; ; n++) {
    const plain = pieces.get(`${base}*${n}`);
    if (plain !== undefined) {
      out = (out ?? '') + plain;
      continue;
    }
    const encoded = pieces.get(`${base}*${n}*`);
    if (encoded === undefined) return out;
    out = (out ?? '') + ((n === 0 ? decode2231(encoded) : percentDecode(encoded)) ?? '');
  }
}

/** `charset'language'value`: the value is everything after the second "'" (it may hold more). */
function decode2231(value: string): string | undefined {
  const first = value.indexOf("'");
  const second = first === -1 ? -1 : value.indexOf("'", first + 1);
  if (second === -1 || !['us-ascii', 'utf-8'].includes(value.slice(0, first).toLowerCase())) return undefined;
  return percentDecode(value.slice(second + 1));
}

/** %XX escapes to bytes, the rest kept as its UTF-8 bytes (Go works on the bytes), read as UTF-8. */
function percentDecode(text: string): string | undefined {
  if (/%(?![0-9a-fA-F]{2})/.test(text)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '%') {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      const code = text.codePointAt(i)!;
      if (code > 0xffff) i++;
      bytes.push(...Buffer.from(String.fromCodePoint(code), 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function malformed(why: string): GatehouseError {
  return new GatehouseError('input_parse_error', `malformed multipart body: ${why}`);
}
