/**
 * Byte-level encodings exactly as Go's standard library reads and writes them, for the builtins
 * whose OPA results depend on Go's quirks: encoding/base64 (strict padding, CR/LF skipped),
 * encoding/pem.Decode (leading text skipped, headers, the rest after the block) and encoding/json's
 * Marshal (sorted keys, HTML escaping) — https://pkg.go.dev/encoding/base64,
 * https://pkg.go.dev/encoding/pem, https://pkg.go.dev/encoding/json.
 */
import { formatRegoValue } from '../rego-value.js';
import type { RegoValue } from './types.js';

const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const URL_BASE64 = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?$/;
const CR_LF = /[\r\n]/g;

/** Go's `base64.StdEncoding.DecodeString` / `URLEncoding.DecodeString`: padded, CR and LF ignored. */
export function goBase64Decode(text: string, url: boolean): Buffer {
  const compact = text.includes('\r') || text.includes('\n') ? text.replace(CR_LF, '') : text;
  if (!(url ? URL_BASE64 : STD_BASE64).test(compact)) throw new Error(`illegal base64 data`);
  return Buffer.from(compact, url ? 'base64url' : 'base64');
}

/** OPA's `base64url.decode`: pads an unpadded string (RFC 7515 appendix C), then Go's decoder. */
export function opaBase64UrlDecode(text: string): Buffer {
  let padded = text;
  if (!text.endsWith('=')) {
    const rest = text.length % 4;
    if (rest === 1) throw new Error(`illegal base64url string: ${text}`);
    if (rest === 2) padded += '==';
    else if (rest === 3) padded += '=';
  }
  return goBase64Decode(padded, true);
}

export interface PemBlock {
  type: string;
  headers: Map<string, string>;
  bytes: Buffer;
}

const NL = 0x0a;
const PEM_START = Buffer.from('\n-----BEGIN ');
const PEM_END = Buffer.from('\n-----END ');
const DASHES = Buffer.from('-----');

function getLine(data: Buffer): { line: Buffer; rest: Buffer; consumed: number } {
  let i = data.indexOf(NL);
  let j: number;
  if (i < 0) {
    i = data.length;
    j = i;
  } else {
    j = i + 1;
    if (i > 0 && data[i - 1] === 0x0d) i--;
  }
  let end = i;
  while (end > 0 && (data[end - 1] === 0x20 || data[end - 1] === 0x09)) end--;
  return { line: data.subarray(0, end), rest: data.subarray(j), consumed: j };
}

function trimSpace(data: Buffer): string {
  return data.toString('latin1').trim();
}

/**
 * A port of Go's `pem.Decode`: the first PEM block in `data` (text before it is skipped) and the
 * bytes after it, or `block: undefined` and `rest: data` when there is none.
 */
export function goPemDecode(data: Buffer): { block: PemBlock | undefined; rest: Buffer } {
  let rest = data;
  let endTrailerIndex = 0;
  for (;;) {
    if (endTrailerIndex < 0 || endTrailerIndex > rest.length) return { block: undefined, rest: data };
    rest = rest.subarray(endTrailerIndex);
    let endIndex = rest.indexOf(PEM_END);
    if (endIndex < 0) return { block: undefined, rest: data };
    endTrailerIndex = endIndex + PEM_END.length;
    const beginIndex = rest.subarray(0, endIndex).lastIndexOf(PEM_START.subarray(1));
    if (beginIndex < 0 || (beginIndex > 0 && rest[beginIndex - 1] !== NL)) continue;
    const skip = beginIndex + PEM_START.length - 1;
    rest = rest.subarray(skip);
    endIndex -= skip;
    endTrailerIndex -= skip;

    const typeRead = getLine(rest);
    rest = typeRead.rest;
    endIndex -= typeRead.consumed;
    endTrailerIndex -= typeRead.consumed;
    const typeLine = typeRead.line;
    if (typeLine.length < DASHES.length || !typeLine.subarray(typeLine.length - DASHES.length).equals(DASHES)) continue;
    const type = typeLine.subarray(0, typeLine.length - DASHES.length);
    const headers = new Map<string, string>();

    let truncated = false;
    for (;;) {
      if (rest.length === 0) {
        truncated = true;
        break;
      }
      const { line, rest: next, consumed } = getLine(rest);
      const colon = line.indexOf(0x3a);
      if (colon < 0) break;
      headers.set(trimSpace(line.subarray(0, colon)), trimSpace(line.subarray(colon + 1)));
      rest = next;
      endIndex -= consumed;
      endTrailerIndex -= consumed;
    }
    if (truncated) return { block: undefined, rest: data };
    if (headers.size > 0 && endIndex < 0) continue;

    let endTrailer = rest.subarray(endTrailerIndex);
    const endTrailerLen = type.length + DASHES.length;
    if (endTrailer.length < endTrailerLen) continue;
    const restOfEndLine = endTrailer.subarray(endTrailerLen);
    endTrailer = endTrailer.subarray(0, endTrailerLen);
    if (!endTrailer.subarray(0, type.length).equals(type) || !endTrailer.subarray(type.length).equals(DASHES)) continue;
    if (getLine(restOfEndLine).line.length !== 0) continue;

    let bytes: Buffer = Buffer.alloc(0);
    if (endIndex > 0) {
      const base64 = rest.subarray(0, endIndex).toString('latin1').replace(/[ \t]/g, '');
      try {
        bytes = goBase64Decode(base64, false);
      } catch {
        continue;
      }
    }
    const after = getLine(rest.subarray(endIndex + PEM_END.length - 1));
    return { block: { type: type.toString('latin1'), headers, bytes }, rest: after.rest };
  }
}

/** Go's `pem.Encode` for a block without headers (64-character lines). */
export function goPemEncode(type: string, bytes: Buffer): string {
  const base64 = bytes.toString('base64');
  let out = `-----BEGIN ${type}-----\n`;
  for (let i = 0; i < base64.length; i += 64) out += `${base64.slice(i, i + 64)}\n`;
  return `${out}-----END ${type}-----\n`;
}

// JSON string escapes as Go's encoding/json writes them (HTML-safe, U+2028/2029 escaped).
const GO_ESCAPES: Record<string, string> = { '\\': '\\\\', '"': '\\"', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
// eslint-disable-next-line no-control-regex
const GO_UNSAFE = /[\u0000-\u001f"\\<>&\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function goJsonString(text: string): string {
  return `"${text.replace(GO_UNSAFE, (c) => {
    const named = GO_ESCAPES[c];
    if (named) return named;
    if (c.length === 1 && c >= '\ud800' && c <= '\udfff') return '\\ufffd';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  })}"`;
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * `json.Marshal(ast.JSON(value))` as OPA writes a Rego value: object keys sorted bytewise, no
 * spaces, Go's string escapes, sets as arrays. Non-string object keys are written as their Rego
 * text (as ast.JSON does for composite keys).
 */
export function goJsonMarshal(value: RegoValue): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'bigint') return formatRegoValue(value);
  if (typeof value === 'string') return goJsonString(value);
  if (Array.isArray(value)) return `[${value.map(goJsonMarshal).join(',')}]`;
  if (value instanceof Set) return `[${[...value].map(goJsonMarshal).join(',')}]`;
  const entries: [string, RegoValue][] = value instanceof Map
    ? [...value].map(([k, v]) => [typeof k === 'string' ? k : formatRegoValue(k), v])
    : Object.keys(value).map((k) => [k, value[k] as RegoValue]);
  entries.sort((a, b) => byteOrder(a[0], b[0]));
  return `{${entries.map(([k, v]) => `${goJsonString(k)}:${goJsonMarshal(v)}`).join(',')}}`;
}
