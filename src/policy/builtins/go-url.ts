/**
 * The parts of Go's net/url (Go 1.26, the toolchain OPA v1.19.1 was built with, under the GODEBUG
 * defaults of OPA's go.mod, go 1.25) that OPA's
 * urlquery.* and uri.* builtins call: QueryEscape, QueryUnescape, ParseQuery, Values.Encode and
 * Parse. Ported line by line (https://pkg.go.dev/net/url) because WHATWG's URL and
 * URLSearchParams answer differently (`%20` vs `+`, `;`, hosts, opaque URLs). Everything here works
 * on byte strings (go-bytes.ts): one char per byte, as Go indexes strings.
 */

const isAlnum = (c: string): boolean => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9a-fA-F]$/.test(c);

type Mode = 'path' | 'pathSegment' | 'host' | 'zone' | 'userPassword' | 'queryComponent' | 'fragment';

/** net/url's shouldEscape (the reference version in gen_encoding_table.go). */
function shouldEscape(c: string, mode: Mode): boolean {
  if (isAlnum(c)) return false;
  if ((mode === 'host' || mode === 'zone') && `!$&'()*+,;=:[]<>"`.includes(c)) return false;
  if ('-_.~'.includes(c)) return false;
  if ('$&+,/:;=?@'.includes(c)) {
    switch (mode) {
      case 'path':
        return c === '?';
      case 'pathSegment':
        return c === '/' || c === ';' || c === ',' || c === '?';
      case 'userPassword':
        return c === '@' || c === '/' || c === '?' || c === ':';
      case 'queryComponent':
        return true;
      case 'fragment':
        return false;
      default:
        break;
    }
  }
  if (mode === 'fragment' && '!()*'.includes(c)) return false;
  return true;
}

export class UrlError extends Error {}

const goQuote = (s: string): string => JSON.stringify(s);

/** net/url's unescape. @throws UrlError ("invalid URL escape ..."). */
function unescape(s: string, mode: Mode): string {
  let n = 0;
  let hasPlus = false;
  for (let i = 0; i < s.length;) {
    const c = s[i]!;
    if (c === '%') {
      n++;
      if (i + 2 >= s.length || !isHex(s[i + 1]) || !isHex(s[i + 2])) {
        throw new UrlError(`invalid URL escape ${goQuote(s.slice(i, i + 3))}`);
      }
      const v = parseInt(s.slice(i + 1, i + 3), 16);
      if (mode === 'host' && v < 0x80 && s.slice(i, i + 3) !== '%25') throw new UrlError(`invalid URL escape ${goQuote(s.slice(i, i + 3))}`);
      if (mode === 'zone' && s.slice(i, i + 3) !== '%25' && v !== 0x20 && shouldEscape(String.fromCharCode(v), 'host')) {
        throw new UrlError(`invalid URL escape ${goQuote(s.slice(i, i + 3))}`);
      }
      i += 3;
    } else if (c === '+') {
      hasPlus = mode === 'queryComponent';
      i++;
    } else {
      if ((mode === 'host' || mode === 'zone') && c < '\x80' && shouldEscape(c, mode)) {
        throw new UrlError(`invalid character ${goQuote(c)} in host name`);
      }
      i++;
    }
  }
  if (n === 0 && !hasPlus) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '%') {
      out += String.fromCharCode(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c === '+') {
      out += mode === 'queryComponent' ? ' ' : '+';
    } else {
      out += c;
    }
  }
  return out;
}

/** net/url's escape. */
function escape(s: string, mode: Mode): string {
  let out = '';
  for (const c of s) {
    if (c === ' ' && mode === 'queryComponent') out += '+';
    else if (shouldEscape(c, mode))
      out += `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
    else out += c;
  }
  return out;
}

export const queryEscape = (s: string): string => escape(s, 'queryComponent');

export const queryUnescape = (s: string): string => unescape(s, 'queryComponent');

/** Go 1.26's default cap on query parameters (GODEBUG urlmaxqueryparams). */
const MAX_QUERY_PARAMS = 10000;

/**
 * url.ParseQuery: values in order of appearance. Like Go, a bad pair (a `;`, a bad escape) is
 * skipped and the first error thrown only after the whole query was read.
 * @throws UrlError
 */
export function parseQuery(query: string): Map<string, string[]> {
  if (query.split('&').length > MAX_QUERY_PARAMS) throw new UrlError('number of URL query parameters exceeded limit');
  const values = new Map<string, string[]>();
  let error: unknown;
  for (const pair of query === '' ? [] : query.split('&')) {
    if (pair.includes(';')) {
      error = new UrlError('invalid semicolon separator in query');
      continue;
    }
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const [rawKey, rawValue] = eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
    try {
      const key = queryUnescape(rawKey);
      const value = queryUnescape(rawValue);
      const list = values.get(key);
      if (list) list.push(value);
      else values.set(key, [value]);
    } catch (e) {
      error ??= e;
    }
  }
  if (error) throw error;
  return values;
}

/** url.Values.Encode: keys sorted (bytewise), each value `key=value`, joined by `&`. */
export function encodeValues(values: Map<string, string[]>): string {
  const keys = [...values.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const parts: string[] = [];
  for (const key of keys) {
    for (const value of values.get(key)!) parts.push(`${queryEscape(key)}=${queryEscape(value)}`);
  }
  return parts.join('&');
}

export interface GoUrl {
  scheme: string;
  opaque: string;
  host: string;
  path: string;
  rawPath: string;
  rawQuery: string;
  fragment: string;
}

/** url.Parse. @throws UrlError */
export function parseUrl(raw: string): GoUrl {
  const hash = raw.indexOf('#');
  const url = parse(hash < 0 ? raw : raw.slice(0, hash));
  if (hash >= 0) url.fragment = unescape(raw.slice(hash + 1), 'fragment');
  return url;
}

function getScheme(raw: string): [string, string] {
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) continue;
    if ((c >= '0' && c <= '9') || c === '+' || c === '-' || c === '.') {
      if (i === 0) return ['', raw];
      continue;
    }
    if (c === ':') {
      if (i === 0) throw new UrlError('missing protocol scheme');
      return [raw.slice(0, i), raw.slice(i + 1)];
    }
    return ['', raw];
  }
  return ['', raw];
}

function parse(raw: string): GoUrl {
  if (/[\x00-\x1f\x7f]/.test(raw)) throw new UrlError('net/url: invalid control character in URL');
  const url: GoUrl = { scheme: '', opaque: '', host: '', path: '', rawPath: '', rawQuery: '', fragment: '' };
  if (raw === '*') {
    url.path = '*';
    return url;
  }
  const [scheme, tail] = getScheme(raw);
  let rest = tail;
  url.scheme = scheme.toLowerCase();
  if (rest.endsWith('?') && rest.indexOf('?') === rest.length - 1) {
    rest = rest.slice(0, -1);
  } else {
    const q = rest.indexOf('?');
    if (q >= 0) {
      url.rawQuery = rest.slice(q + 1);
      rest = rest.slice(0, q);
    }
  }
  if (!rest.startsWith('/')) {
    if (url.scheme !== '') {
      url.opaque = rest;
      return url;
    }
    const slash = rest.indexOf('/');
    if ((slash < 0 ? rest : rest.slice(0, slash)).includes(':')) throw new UrlError('first path segment in URL cannot contain colon');
  }
  if ((url.scheme !== '' || !rest.startsWith('///')) && rest.startsWith('//')) {
    let authority = rest.slice(2);
    rest = '';
    const slash = authority.indexOf('/');
    if (slash >= 0) {
      rest = authority.slice(slash);
      authority = authority.slice(0, slash);
    }
    url.host = parseAuthority(authority);
  }
  url.path = unescape(rest, 'path');
  url.rawPath = escape(url.path, 'path') === rest ? '' : rest;
  return url;
}

/** The host of `userinfo@host` (userinfo is validated and dropped: uri.parse does not return it). */
function parseAuthority(authority: string): string {
  const at = authority.lastIndexOf('@');
  const host = parseHost(at < 0 ? authority : authority.slice(at + 1));
  if (at < 0) return host;
  const userinfo = authority.slice(0, at);
  if (!/^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(userinfo)) throw new UrlError('net/url: invalid userinfo');
  const colon = userinfo.indexOf(':');
  if (colon < 0) unescape(userinfo, 'userPassword');
  else {
    unescape(userinfo.slice(0, colon), 'userPassword');
    unescape(userinfo.slice(colon + 1), 'userPassword');
  }
  return host;
}

function validOptionalPort(port: string): boolean {
  return port === '' || /^:[0-9]*$/.test(port);
}

function parseHost(host: string): string {
  const open = host.lastIndexOf('[');
  if (open > 0) throw new UrlError('invalid IP-literal');
  if (open === 0) {
    const close = host.lastIndexOf(']');
    if (close < 0) throw new UrlError("missing ']' in host");
    const colonPort = host.slice(close + 1);
    if (!validOptionalPort(colonPort)) throw new UrlError(`invalid port ${goQuote(colonPort)} after host`);
    const port = unescape(colonPort, 'host');
    const hostname = host.slice(1, close);
    const zone = hostname.indexOf('%25');
    const unescaped = zone >= 0
      ? unescape(hostname.slice(0, zone), 'host') + unescape(hostname.slice(zone), 'zone')
      : unescape(hostname, 'host');
    // Only an IPv6 address may be bracketed (netip.ParseAddr, not an IPv4 one).
    const special = /[.:%]/.exec(unescaped)?.[0];
    if (special !== ':' || !isGoIPv6(unescaped)) throw new UrlError(`invalid host`);
    return `[${unescaped}]${port}`;
  }
  if (host.includes(':')) {
    // The port follows the last colon. (Go 1.26's urlstrictcolons=1 refuses more colons in
    // http(s) hosts, but OPA's go.mod says go 1.25, which keeps the old default.)
    const colonPort = host.slice(host.lastIndexOf(':'));
    if (!validOptionalPort(colonPort)) throw new UrlError(`invalid port ${goQuote(colonPort)} after host`);
  }
  return unescape(host, 'host');
}

/** netip.parseIPv6 succeeds (zone allowed, embedded IPv4 only in the last 32 bits). */
function isGoIPv6(input: string): boolean {
  let s = input;
  const percent = s.indexOf('%');
  if (percent >= 0) {
    if (percent === s.length - 1) return false;
    s = s.slice(0, percent);
  }
  let ellipsis = -1;
  if (s.startsWith('::')) {
    ellipsis = 0;
    s = s.slice(2);
    if (s === '') return true;
  }
  let i = 0;
  while (i < 16) {
    const digits = /^[0-9a-fA-F]*/.exec(s)![0];
    if (digits.length === 0 || digits.length > 4) return false;
    if (s[digits.length] === '.') {
      if ((ellipsis < 0 && i !== 12) || i + 4 > 16) return false;
      if (!isGoIPv4(s)) return false;
      s = '';
      i += 4;
      break;
    }
    i += 2;
    s = s.slice(digits.length);
    if (s === '') break;
    if (s[0] !== ':' || s.length === 1) return false;
    s = s.slice(1);
    if (s[0] === ':') {
      if (ellipsis >= 0) return false;
      ellipsis = i;
      s = s.slice(1);
      if (s === '') break;
    }
  }
  if (s !== '') return false;
  return i < 16 ? ellipsis >= 0 : ellipsis < 0;
}

/** netip.parseIPv4Fields: four decimal octets, no leading zeros. */
function isGoIPv4(s: string): boolean {
  const fields = s.split('.');
  return fields.length === 4 && fields.every((f) => /^(?:0|[1-9][0-9]{0,2})$/.test(f) && Number(f) <= 255);
}

/** url.URL.Hostname / Port: split at the last colon when a numeric port follows; unbracket. */
export function splitHostPort(hostPort: string): [string, string] {
  let host = hostPort;
  let port = '';
  const colon = host.lastIndexOf(':');
  if (colon >= 0 && validOptionalPort(host.slice(colon))) {
    port = host.slice(colon + 1);
    host = host.slice(0, colon);
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return [host, port];
}
