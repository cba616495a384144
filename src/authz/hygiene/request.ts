/**
 * Hygiene of the request line and headers, run before anything is parsed: the limits (cheap
 * counts on the raw strings), then the method, the headers (both `headers` and `header_map`) and
 * the host. Envoy's fields: https://www.envoyproxy.io/docs/envoy/latest/api-v3/service/auth/v3/attribute_context.proto
 */
import { isUtf8 } from 'node:buffer';
import { canonicalHost, type CanonicalHost } from './host.js';
import { quote, HygieneRefusal } from './refusal.js';
import type { HygieneRuleId } from './rules.js';
import type { HygieneSettings } from './settings.js';
import { CONTROL, CONTROL_BUT_TAB, describeControl, REPLACEMENT, SUSPECT_HEADER_NAME, SUSPECT_HEADER_VALUE } from './text.js';

/** The parts of `attributes.request.http` hygiene reads. */
export interface RequestLine {
  method?: string;
  path?: string;
  host?: string;
  scheme?: string;
  headerMap?: { headers?: { key?: string; value?: string; rawValue?: string }[] } | null;
}

const OVERRIDES: readonly (readonly ['method_override' | 'url_override', readonly string[], string])[] = [
  ['method_override', ['x-http-method-override', 'x-http-method', 'x-method-override'], 'method'],
  ['url_override', ['x-original-url', 'x-rewrite-url'], 'path'],
];
/** RFC 9110 token, upper case only. */
const METHOD = /^[!#$%&'*+.^`|~0-9A-Z-]+$/;

/**
 * Checks the request line and headers; returns the canonical host (undefined when there is no
 * host, or none can be derived and the rule is off).
 */
export function screenRequestLine(http: RequestLine, headers: Record<string, string>, settings: HygieneSettings): CanonicalHost | undefined {
  const path = http.path ?? '';
  checkTargetLimits(path, settings);
  const on = settings.on;
  if (on.has('invalid_method')) checkMethod(http.method ?? '', headers[':method']);
  if (on.has('invalid_utf8') && path.includes(REPLACEMENT)) throw new HygieneRefusal('invalid_utf8', 'path', 'holds bytes that are not UTF-8');
  screenHeaders(headers, http.headerMap?.headers, settings);
  return host(http, headers, settings);
}

function checkTargetLimits(path: string, settings: HygieneSettings): void {
  const limits = settings.limits;
  // Characters first: a string of n characters has at least n and at most 3n UTF-8 bytes.
  if (path.length > limits.max_path_bytes || (path.length * 3 > limits.max_path_bytes && Buffer.byteLength(path) > limits.max_path_bytes)) {
    throw new HygieneRefusal('path_too_long', 'request target', `is ${Buffer.byteLength(path)} bytes, over max_path_bytes (${limits.max_path_bytes})`);
  }
  const question = path.indexOf('?');
  const end = question === -1 ? path.length : question;
  const segments = count(path, 0x2f, 0, end);
  if (segments > limits.max_path_segments) {
    throw new HygieneRefusal('too_many_path_segments', 'path', `has ${segments} segments, over max_path_segments (${limits.max_path_segments})`);
  }
  if (question !== -1) {
    const params = count(path, 0x26, question, path.length) + count(path, 0x3b, question, path.length) + 1;
    if (params > limits.max_query_params) {
      throw new HygieneRefusal('too_many_query_params', 'query', `has ${params} parameters, over max_query_params (${limits.max_query_params})`);
    }
  }
}

/** Occurrences of one character code in text[from, to). */
export function count(text: string, code: number, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === code) n++;
  return n;
}

function screenHeaders(headers: Record<string, string>, list: NonNullable<RequestLine['headerMap']>['headers'], settings: HygieneSettings): void {
  const limits = settings.limits;
  // header_map first: its raw bytes are exact; headers built from it are already decoded.
  let entries = list?.length ?? 0;
  let chars = 0;
  if (entries > limits.max_headers) tooMany(entries, limits.max_headers);
  if (list) {
    for (const entry of list) {
      const name = entry.key ?? '';
      let value = entry.value ?? '';
      if (value === '' && entry.rawValue) {
        if (settings.on.size === 0) {
          chars += name.length + Math.floor((entry.rawValue.length * 3) / 4); // limits only: no need to decode
          continue;
        }
        const bytes = Buffer.from(entry.rawValue, 'base64');
        if (settings.on.has('invalid_utf8') && !isUtf8(bytes)) throw new HygieneRefusal('invalid_utf8', `header_map entry ${quote(name)}`, 'has a raw value that is not UTF-8');
        value = bytes.toString('utf8');
      }
      chars += name.length + value.length;
      checkHeader(name.toLowerCase(), value, settings);
    }
    if (settings.on.size > 0) checkOverrides((name) => headerMapValue(list, name), settings.on);
  }
  let headerEntries = 0;
  let headerChars = 0;
  for (const name in headers) {
    const value = headers[name]!;
    headerEntries++;
    headerChars += name.length + value.length;
    checkHeader(name, value, settings);
  }
  if (settings.on.size > 0) checkOverrides((name) => headers[name], settings.on);
  entries = Math.max(entries, headerEntries);
  chars = Math.max(chars, headerChars);
  if (entries > limits.max_headers) tooMany(entries, limits.max_headers);
  // Characters first: n characters are at least n and at most 3n UTF-8 bytes; count bytes only when it matters.
  const bytes = chars * 3 > limits.max_header_bytes ? headerBytes(headers, list) : chars;
  if (bytes > limits.max_header_bytes) {
    throw new HygieneRefusal('headers_too_large', 'headers', `total ${bytes} bytes, over max_header_bytes (${limits.max_header_bytes})`);
  }
}

function headerBytes(headers: Record<string, string>, list: NonNullable<RequestLine['headerMap']>['headers']): number {
  let fromHeaders = 0;
  for (const name in headers) fromHeaders += Buffer.byteLength(name) + Buffer.byteLength(headers[name]!);
  let fromList = 0;
  for (const entry of list ?? []) {
    fromList += Buffer.byteLength(entry.key ?? '') + (entry.value ? Buffer.byteLength(entry.value) : Math.floor(((entry.rawValue ?? '').length * 3) / 4));
  }
  return Math.max(fromHeaders, fromList);
}

function tooMany(entries: number, max: number): never {
  throw new HygieneRefusal('too_many_headers', 'headers', `are ${entries}, over max_headers (${max})`);
}

function checkHeader(name: string, value: string, settings: HygieneSettings): void {
  const max = settings.limits.max_header_value_bytes;
  if (value.length * 3 > max && Buffer.byteLength(value) > max) {
    throw new HygieneRefusal('header_value_too_long', `header ${quote(name)}`, `is ${Buffer.byteLength(value)} bytes, over max_header_value_bytes (${max})`);
  }
  // One test each for the clean case; the rules only run on a suspect name or value.
  if (settings.on.size > 0 && SUSPECT_HEADER_NAME.test(name)) suspectName(name, settings.on);
  if (settings.on.size > 0 && SUSPECT_HEADER_VALUE.test(value)) suspectValue(name, value, settings.on);
}

function suspectName(name: string, on: ReadonlySet<HygieneRuleId>): void {
  if (on.has('invalid_utf8') && name.includes(REPLACEMENT)) throw new HygieneRefusal('invalid_utf8', `header name ${quote(name)}`, 'is not UTF-8');
  if (on.has('control_character') && CONTROL.test(name)) throw new HygieneRefusal('control_character', `header name ${quote(name)}`, `holds control character ${describeControl(name, CONTROL)}`);
  if (on.has('underscore_header') && name.includes('_')) throw new HygieneRefusal('underscore_header', `header ${quote(name)}`, 'has "_" in its name, which many servers read as "-"');
}

function suspectValue(name: string, value: string, on: ReadonlySet<HygieneRuleId>): void {
  if (on.has('invalid_utf8') && value.includes(REPLACEMENT)) throw new HygieneRefusal('invalid_utf8', `header ${quote(name)}`, 'has a value that is not UTF-8');
  if (on.has('control_character') && CONTROL_BUT_TAB.test(value)) throw new HygieneRefusal('control_character', `header ${quote(name)}`, `holds control character ${describeControl(value, CONTROL_BUT_TAB)}`);
}

function headerMapValue(list: NonNullable<NonNullable<RequestLine['headerMap']>['headers']>, name: string): string | undefined {
  const entry = list.find((e) => (e.key ?? '').toLowerCase() === name);
  return entry && (entry.value || (entry.rawValue ? Buffer.from(entry.rawValue, 'base64').toString('utf8') : ''));
}

/** Override headers: looked up by name once per request (not tested per header). */
function checkOverrides(lookup: (name: string) => string | undefined, on: ReadonlySet<HygieneRuleId>): void {
  for (const [rule, names, what] of OVERRIDES) {
    if (!on.has(rule)) continue;
    for (const name of names) {
      const value = lookup(name);
      if (value !== undefined) throw new HygieneRefusal(rule, `header ${quote(name)}`, `overrides the ${what} with ${quote(value)}`);
    }
  }
}

function checkMethod(method: string, pseudo: string | undefined): void {
  if (method === '') throw new HygieneRefusal('invalid_method', 'method', 'is empty');
  if (method.includes(REPLACEMENT)) throw new HygieneRefusal('invalid_method', 'method', 'is not UTF-8');
  if (!METHOD.test(method)) throw new HygieneRefusal('invalid_method', 'method', `${quote(method)} is not an upper-case RFC 9110 token`);
  if (pseudo !== undefined && pseudo !== method) throw new HygieneRefusal('invalid_method', 'method', `${quote(method)} differs from :method ${quote(pseudo)}`);
}

function host(http: RequestLine, headers: Record<string, string>, settings: HygieneSettings): CanonicalHost | undefined {
  const raw = http.host ?? headers[':authority'] ?? '';
  const checked = settings.on.has('host_not_canonical');
  if (raw === '' || !(checked || settings.strictParsing)) return undefined;
  const refuse = (why: string): never => {
    throw new HygieneRefusal('host_not_canonical', 'host', `${quote(raw)} ${why}`);
  };
  const canonical = canonicalHost(raw, http.scheme ?? headers[':scheme']);
  if (typeof canonical === 'string') {
    if (checked && settings.on.has('invalid_utf8') && raw.includes(REPLACEMENT)) throw new HygieneRefusal('invalid_utf8', 'host', 'is not UTF-8');
    if (checked && settings.on.has('control_character') && CONTROL.test(raw)) throw new HygieneRefusal('control_character', 'host', `holds control character ${describeControl(raw, CONTROL)}`);
    return checked ? refuse(canonical) : undefined;
  }
  if (checked) {
    if (canonical.authority !== raw) refuse(`is not canonical; send ${quote(canonical.authority)}`);
    for (const other of [':authority', 'host']) {
      const value = headers[other];
      if (value !== undefined && value !== raw) refuse(`differs from the ${other} header ${quote(value)}`);
    }
  }
  return canonical;
}
