/**
 * Go's net/url.Parse (go1.26) and net.IP text, for the JSON shapes OPA's X.509 builtins return
 * (a certificate's `URIs` are *url.URL marshalled to JSON, its `IPAddresses` net.IP text).
 * https://pkg.go.dev/net/url — parsing is go-url.ts's; this adds url.URL's remaining fields,
 * its String() and the escaping both need.
 */
import { goBytesToString } from './go-bytes.js';
import { parseUrl } from './go-url.js';
import type { RegoObject } from './types.js';

type Mode = 'path' | 'host' | 'user' | 'fragment';

function isAlnum(c: string): boolean {
  return /^[A-Za-z0-9]$/.test(c);
}

/** url.shouldEscape for one ASCII byte. */
function shouldEscape(c: string, mode: Mode): boolean {
  if (isAlnum(c)) return false;
  if (mode === 'host' && `!$&'()*+,;=:[]<>"`.includes(c)) return false;
  if ('-_.~'.includes(c)) return false;
  if ('$&+,/:;=?@'.includes(c)) {
    if (mode === 'path') return c === '?';
    if (mode === 'user') return '@/?:'.includes(c);
    if (mode === 'fragment') return false;
  }
  if (mode === 'fragment' && '!()*'.includes(c)) return false;
  return true;
}

const HEX = /^[0-9A-Fa-f]{2}$/;

/**
 * url.unescape (path, userinfo and fragment modes) on a byte string (one char per byte, as
 * go-url.ts works): the bytes, still one char each. @throws Error on a bad escape.
 */
function unescape(s: string, mode: Mode): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '%') {
      out += s[i];
      continue;
    }
    const hex = s.slice(i + 1, i + 3);
    if (!HEX.test(hex)) throw new Error(`invalid URL escape "${s.slice(i, i + 3)}" (${mode})`);
    out += String.fromCharCode(parseInt(hex, 16));
    i += 2;
  }
  return out;
}

/** url.escape of a byte string. */
function escape(s: string, mode: Mode): string {
  let out = '';
  for (const c of s) out += c < '\x80' && !shouldEscape(c, mode) ? c : `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/** A byte string as the text Go's encoding/json writes (invalid UTF-8 one U+FFFD per byte). */
const text = (bytes: string): string => goBytesToString(Buffer.from(bytes, 'latin1'));

type UrlFields = { Scheme: string; Opaque: string; User: RegoObject | null; Host: string; Path: string; RawPath: string; OmitHost: boolean; ForceQuery: boolean; RawQuery: string; Fragment: string; RawFragment: string };

/** url.URL.String() of each parsed URL (its JSON lacks the userinfo text). */
const TEXT = new WeakMap<RegoObject, string>();

/** url.URL.String() of a URL made by goUrl. */
export function goUrlText(url: RegoObject): string {
  return TEXT.get(url) ?? '';
}

/**
 * url.Parse(raw) as the JSON of Go's url.URL. go-url.ts parses (a SAN URI is IA5, so the text is
 * its byte string); the fields it does not return are derived here as Parse sets them, on byte
 * strings too, and turned into text for the JSON.
 * @throws Error when Go's Parse fails.
 */
export function goUrl(raw: string): RegoObject {
  const parsed = parseUrl(raw);
  const hash = raw.indexOf('#');
  const beforeFragment = hash >= 0 ? raw.slice(0, hash) : raw;
  let rest = parsed.scheme ? beforeFragment.slice(parsed.scheme.length + 1) : beforeFragment;
  const forceQuery = rest.endsWith('?') && rest.indexOf('?') === rest.length - 1;
  rest = rest.split('?')[0]!;
  const hasAuthority = rest !== '*' && !parsed.opaque && (parsed.scheme !== '' || !rest.startsWith('///')) && rest.startsWith('//');
  const authority = hasAuthority ? rest.slice(2).split('/')[0]! : '';
  const at = authority.lastIndexOf('@');
  let user: string | undefined;
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    const username = unescape(colon < 0 ? userinfo : userinfo.slice(0, colon), 'user');
    const password = colon < 0 ? undefined : unescape(userinfo.slice(colon + 1), 'user');
    user = escape(username, 'user') + (password === undefined ? '' : `:${escape(password, 'user')}`);
  }
  const url: UrlFields = {
    Scheme: parsed.scheme, Opaque: parsed.opaque,
    // Userinfo has no exported fields: Go marshals it as {}.
    User: user === undefined ? null : (Object.create(null) as RegoObject),
    Host: parsed.host, Path: parsed.path, RawPath: parsed.rawPath,
    OmitHost: parsed.scheme !== '' && !parsed.opaque && !hasAuthority && rest.startsWith('/'),
    ForceQuery: forceQuery, RawQuery: parsed.rawQuery, Fragment: '', RawFragment: '',
  };
  return finish(url, hash >= 0 ? raw.slice(hash + 1) : '', hash >= 0, user);
}

function finish(url: UrlFields, fragment: string, hasFragment: boolean, user: string | undefined): RegoObject {
  if (hasFragment && fragment !== '') {
    url.Fragment = unescape(fragment, 'fragment');
    url.RawFragment = escape(url.Fragment, 'fragment') === fragment ? '' : fragment;
  }
  const json = Object.assign(Object.create(null) as RegoObject, url, {
    Opaque: text(url.Opaque), Host: text(url.Host), Path: text(url.Path), RawPath: text(url.RawPath),
    RawQuery: text(url.RawQuery), Fragment: text(url.Fragment), RawFragment: text(url.RawFragment),
  });
  TEXT.set(json, text(urlString(url, user)));
  return json;
}

/** validEncoded: every byte may appear in that part as it is. */
function validEncoded(s: string, mode: Mode): boolean {
  return [...s].every((c) => "!$&'()*+,;=:@[]%".includes(c) || !shouldEscape(c, mode));
}

/** url.URL.String. */
function urlString(url: UrlFields, user: string | undefined): string {
  let out = url.Scheme ? `${url.Scheme}:` : '';
  if (url.Opaque) {
    out += url.Opaque;
  } else {
    if ((url.Scheme || url.Host || user !== undefined) && !(url.OmitHost && !url.Host && user === undefined)) {
      if (url.Host || url.Path || user !== undefined) out += '//';
      if (user !== undefined) out += `${user}@`;
      if (url.Host) out += escape(url.Host, 'host');
    }
    const path = url.RawPath && validEncoded(url.RawPath, 'path') && unescape(url.RawPath, 'path') === url.Path ? url.RawPath : url.Path === '*' ? '*' : escape(url.Path, 'path');
    if (path && !path.startsWith('/') && url.Host) out += '/';
    if (!out && path.split('/')[0]!.includes(':')) out += './';
    out += path;
  }
  if (url.ForceQuery || url.RawQuery) out += `?${url.RawQuery}`;
  if (url.Fragment) {
    const raw = url.RawFragment;
    out += `#${raw && validEncoded(raw, 'fragment') && unescape(raw, 'fragment') === url.Fragment ? raw : escape(url.Fragment, 'fragment')}`;
  }
  return out;
}

/** net.IP's text: dotted quad for 4-byte and IPv4-mapped addresses, RFC 5952 for IPv6. */
export function goIpString(ip: Buffer): string {
  if (ip.length === 4) return [...ip].join('.');
  if (ip.length !== 16) return `?${ip.toString('hex')}`;
  if (ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff) return [...ip.subarray(12)].join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ip.readUInt16BE(i * 2));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** crypto/x509's domainNameValid: no trailing dot, printable ASCII, no empty label. */
export function domainNameValid(name: string, constraint: boolean): boolean {
  if (name.length === 0) return true;
  if (name.endsWith('.')) return false;
  const body = constraint && name.startsWith('.') ? name.slice(1) : name;
  return body.split('.').every((label) => label.length > 0 && /^[\x21-\x7e]+$/.test(label));
}

/** The bytes of an IP address in text (as node's isIP accepts it): 4 for IPv4, 16 for IPv6. */
export function ipBytes(text: string): Buffer {
  if (!text.includes(':')) return Buffer.from(text.split('.').map(Number));
  let body = text;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(body);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    body = `${body.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = body.split('::') as [string, string | undefined];
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}
