/**
 * Go's net/url.Parse (go1.26) and net.IP text, for the JSON shapes OPA's X.509 builtins return
 * (a certificate's `URIs` are *url.URL marshalled to JSON, its `IPAddresses` net.IP text).
 * https://pkg.go.dev/net/url#Parse — ported for what a certificate's URI SAN can hold. (go-url.ts,
 * the encoding family's port for uri.parse, returns fewer fields and works on byte strings.)
 */
import type { RegoObject } from './types.js';

type Mode = 'path' | 'host' | 'zone' | 'user' | 'fragment';

function isAlnum(c: string): boolean {
  return /^[A-Za-z0-9]$/.test(c);
}

/** url.shouldEscape for one ASCII byte. */
function shouldEscape(c: string, mode: Mode): boolean {
  if (isAlnum(c)) return false;
  if ((mode === 'host' || mode === 'zone') && `!$&'()*+,;=:[]<>"`.includes(c)) return false;
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

/** url.unescape over the string's bytes. @throws Error on a bad escape or host byte. */
function unescape(s: string, mode: Mode): string {
  const bytes = Buffer.from(s, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x25) {
      const hex = bytes.subarray(i + 1, i + 3).toString('latin1');
      if (!HEX.test(hex)) throw new Error(`invalid URL escape "${bytes.subarray(i, i + 3).toString('latin1')}"`);
      const v = parseInt(hex, 16);
      if (mode === 'host' && v >> 4 < 8 && hex !== '25') throw new Error(`invalid URL escape "%${hex}"`);
      if (mode === 'zone' && hex !== '25' && v !== 0x20 && shouldEscape(String.fromCharCode(v), 'host')) throw new Error(`invalid URL escape "%${hex}"`);
      out.push(v);
      i += 2;
    } else {
      if ((mode === 'host' || mode === 'zone') && b < 0x80 && shouldEscape(String.fromCharCode(b), mode)) {
        throw new Error(`invalid character "${String.fromCharCode(b)}" in host name`);
      }
      out.push(b);
    }
  }
  return Buffer.from(out).toString('utf8');
}

function escape(s: string, mode: Mode): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += b < 0x80 && !shouldEscape(c, mode) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function parseHost(host: string): string {
  const open = host.lastIndexOf('[');
  if (open > 0) throw new Error('invalid IP-literal');
  if (open === 0) {
    const close = host.lastIndexOf(']');
    if (close < 0) throw new Error(`missing ']' in host`);
    const port = host.slice(close + 1);
    if (!/^(?::\d*)?$/.test(port)) throw new Error(`invalid port "${port}" after host`);
    const name = host.slice(1, close);
    const zone = name.indexOf('%25');
    const unescaped = zone >= 0 ? unescape(name.slice(0, zone), 'host') + unescape(name.slice(zone), 'zone') : unescape(name, 'host');
    const address = unescaped.split('%')[0]!;
    if (!address.includes(':')) throw new Error('invalid IP-literal');
    return `[${unescaped}]${unescape(port, 'host')}`;
  }
  const colon = host.lastIndexOf(':');
  if (colon >= 0 && !/^:\d*$/.test(host.slice(colon))) throw new Error(`invalid port "${host.slice(colon)}" after host`);
  return unescape(host, 'host');
}

type UrlFields = { Scheme: string; Opaque: string; User: RegoObject | null; Host: string; Path: string; RawPath: string; OmitHost: boolean; ForceQuery: boolean; RawQuery: string; Fragment: string; RawFragment: string };

/** url.URL.String() of each parsed URL (its JSON lacks the userinfo text). */
const TEXT = new WeakMap<RegoObject, string>();

/** url.URL.String() of a URL made by goUrl. */
export function goUrlText(url: RegoObject): string {
  return TEXT.get(url) ?? '';
}

/** url.Parse(raw) as the JSON of Go's url.URL. @throws Error when Go's Parse fails. */
export function goUrl(raw: string): RegoObject {
  let user: string | undefined;
  const url: UrlFields = { Scheme: '', Opaque: '', User: null as RegoObject | null, Host: '', Path: '', RawPath: '', OmitHost: false, ForceQuery: false, RawQuery: '', Fragment: '', RawFragment: '' };
  const hash = raw.indexOf('#');
  const fragment = hash >= 0 ? raw.slice(hash + 1) : '';
  let rest = hash >= 0 ? raw.slice(0, hash) : raw;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(rest)) throw new Error('net/url: invalid control character in URL');
  if (rest === '*') {
    url.Path = '*';
  } else {
    const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(rest);
    if (rest.startsWith(':')) throw new Error('missing protocol scheme');
    if (scheme) {
      url.Scheme = scheme[0].slice(0, -1).toLowerCase();
      rest = rest.slice(scheme[0].length);
    }
    if (rest.endsWith('?') && rest.indexOf('?') === rest.length - 1) {
      url.ForceQuery = true;
      rest = rest.slice(0, -1);
    } else {
      const q = rest.indexOf('?');
      if (q >= 0) {
        url.RawQuery = rest.slice(q + 1);
        rest = rest.slice(0, q);
      }
    }
    if (!rest.startsWith('/') && url.Scheme !== '') {
      url.Opaque = rest;
      return finish(url, fragment, hash >= 0, user);
    }
    if (!rest.startsWith('/') && rest.split('/')[0]!.includes(':')) throw new Error('first path segment in URL cannot contain colon');
    if ((url.Scheme !== '' || !rest.startsWith('///')) && rest.startsWith('//')) {
      let authority = rest.slice(2);
      rest = '';
      const slash = authority.indexOf('/');
      if (slash >= 0) {
        rest = authority.slice(slash);
        authority = authority.slice(0, slash);
      }
      const at = authority.lastIndexOf('@');
      url.Host = parseHost(at < 0 ? authority : authority.slice(at + 1));
      if (at >= 0) {
        const userinfo = authority.slice(0, at);
        if (!/^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(userinfo)) throw new Error('net/url: invalid userinfo');
        const colon = userinfo.indexOf(':');
        const username = unescape(colon < 0 ? userinfo : userinfo.slice(0, colon), 'user');
        const password = colon < 0 ? undefined : unescape(userinfo.slice(colon + 1), 'user');
        user = escape(username, 'user') + (password === undefined ? '' : `:${escape(password, 'user')}`);
        // Userinfo has no exported fields: Go marshals it as {}.
        url.User = Object.create(null) as RegoObject;
      }
    } else if (url.Scheme !== '' && rest.startsWith('/')) {
      url.OmitHost = true;
    }
    url.Path = unescape(rest, 'path');
    url.RawPath = escape(url.Path, 'path') === rest ? '' : rest;
  }
  return finish(url, fragment, hash >= 0, user);
}

function finish(url: UrlFields, fragment: string, hasFragment: boolean, user: string | undefined): RegoObject {
  if (hasFragment && fragment !== '') {
    url.Fragment = unescape(fragment, 'fragment');
    url.RawFragment = escape(url.Fragment, 'fragment') === fragment ? '' : fragment;
  }
  const json = Object.assign(Object.create(null) as RegoObject, url);
  TEXT.set(json, urlString(url, user));
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
