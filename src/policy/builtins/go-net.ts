/**
 * The parts of Go's `net` package that OPA's CIDR builtins are made of (net.ParseIP, ParseCIDR,
 * IP.Mask, IP.To4, IP.String, IPNet.Contains, IPNet.String), with Go's byte-slice semantics: an
 * IPv4 address parsed from text is 16 bytes in IPv4-mapped form, a mask is 4 or 16 bytes, an
 * IPv4-mapped IPv6 network behaves as the IPv4 network it maps. The results of OPA's builtins
 * depend on those details (`net.cidr_merge(["::ffff:1.2.3.4/120"])` prints "1.2.3.0/24"), which is
 * why they are reproduced rather than approximated with an IP library's own model.
 * https://pkg.go.dev/net#IP
 */
import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';

export type IP = Uint8Array;
export interface IPNet {
  ip: IP;
  mask: Uint8Array;
}

const V4_IN_V6_PREFIX = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff);

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** bytes.Compare */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

const bytesEqual = (a: Uint8Array, b: Uint8Array) => compareBytes(a, b) === 0;

/** Parse a textual address as netip.ParseAddr does (no zone): 16 bytes, and whether it is IPv4. */
function parseAddr(s: string): { bytes: IP; is4: boolean } | undefined {
  if (s.includes('%')) return undefined;
  // node:net's checks have Go's strictness (decimal octets without leading zeros, hex groups of
  // at most four digits, one "::" standing for at least one group, a trailing dotted quad)
  if (isIPv4(s)) return { bytes: concat(V4_IN_V6_PREFIX, Uint8Array.from(s.split('.'), Number)), is4: true };
  if (!isIPv6(s)) return undefined;
  const groups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else out.push(parseInt(g, 16));
    }
    return out;
  };
  const [head, tail] = s.split('::') as [string, string | undefined];
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const all = [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return { bytes, is4: false };
}

/** net.ParseIP: 16 bytes (IPv4 in mapped form), or undefined. */
export function parseIP(s: string): IP | undefined {
  return parseAddr(s)?.bytes;
}

/** net.CIDRMask */
export function cidrMask(ones: number, bits: number): Uint8Array {
  const mask = new Uint8Array(bits / 8);
  for (let i = 0; i < mask.length; i++) {
    const n = Math.max(0, Math.min(8, ones - 8 * i));
    mask[i] = (0xff00 >> n) & 0xff;
  }
  return mask;
}

/** net.ParseCIDR: the address (16 bytes) and its network; undefined on error. */
export function parseCIDR(s: string): { ip: IP; net: IPNet } | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const addr = parseAddr(s.slice(0, slash));
  const prefix = s.slice(slash + 1);
  if (!addr || !/^\d+$/.test(prefix)) return undefined;
  const bits = addr.is4 ? 32 : 128;
  const n = Number(prefix); // Go's dtoi: leading zeros allowed
  if (n > bits) return undefined;
  const mask = cidrMask(n, bits);
  return { ip: addr.bytes, net: { ip: ipMask(addr.bytes, mask)!, mask } };
}

function allFF(b: Uint8Array): boolean {
  return b.every((x) => x === 0xff);
}

/** IP.Mask: undefined where Go returns nil. */
export function ipMask(ip: IP, mask: Uint8Array): IP | undefined {
  if (mask.length === 16 && ip.length === 4 && allFF(mask.subarray(0, 12))) mask = mask.subarray(12);
  if (mask.length === 4 && ip.length === 16 && bytesEqual(ip.subarray(0, 12), V4_IN_V6_PREFIX)) ip = ip.subarray(12);
  if (ip.length !== mask.length) return undefined;
  return ip.map((b, i) => b & mask[i]!);
}

/** IP.To4 */
export function to4(ip: IP): IP | undefined {
  if (ip.length === 4) return ip;
  if (ip.length === 16 && bytesEqual(ip.subarray(0, 12), V4_IN_V6_PREFIX)) return ip.subarray(12);
  return undefined;
}

/** IP.To16 (empty where Go returns nil) */
export function to16(ip: IP): IP {
  if (ip.length === 4) return concat(V4_IN_V6_PREFIX, ip);
  return ip.length === 16 ? ip : new Uint8Array(0);
}

/** IP.Equal */
export function ipEqual(a: IP, b: IP): boolean {
  if (a.length === b.length) return bytesEqual(a, b);
  if (a.length === 4 && b.length === 16) return bytesEqual(b.subarray(0, 12), V4_IN_V6_PREFIX) && bytesEqual(a, b.subarray(12));
  if (a.length === 16 && b.length === 4) return bytesEqual(a.subarray(0, 12), V4_IN_V6_PREFIX) && bytesEqual(a.subarray(12), b);
  return false;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** IP.String */
export function ipString(ip: IP): string {
  if (ip.length === 0) return '<nil>';
  if (ip.length !== 4 && ip.length !== 16) return `?${hex(ip)}`;
  const v4 = to4(ip);
  if (v4) return v4.join('.');
  return (ipaddr.fromByteArray([...ip]) as ipaddr.IPv6).toRFC5952String();
}

/** simpleMaskLength: the prefix length, or -1 for a non-contiguous mask. */
function simpleMaskLength(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) {
    const v = mask[i]!;
    if (v === 0xff) {
      n += 8;
      continue;
    }
    let x = v;
    while (x & 0x80) {
      n++;
      x = (x << 1) & 0xff;
    }
    if (x !== 0) return -1;
    for (let j = i + 1; j < mask.length; j++) if (mask[j] !== 0) return -1;
    break;
  }
  return n;
}

/** IPMask.Size: [ones, bits], [0, 0] for a non-canonical mask. */
export function maskSize(mask: Uint8Array): [number, number] {
  const ones = simpleMaskLength(mask);
  return ones === -1 ? [0, 0] : [ones, mask.length * 8];
}

function networkNumberAndMask(n: IPNet): [IP, Uint8Array] | undefined {
  let ip = to4(n.ip);
  if (!ip) {
    ip = n.ip;
    if (ip.length !== 16) return undefined;
  }
  let m = n.mask;
  if (m.length === 4) {
    if (ip.length !== 4) return undefined;
  } else if (m.length === 16) {
    if (ip.length === 4) m = m.subarray(12);
  } else return undefined;
  return [ip, m];
}

/** IPNet.Contains */
export function netContains(n: IPNet, ip: IP): boolean {
  const nm = networkNumberAndMask(n);
  const x = to4(ip) ?? ip;
  const [nn, m] = nm ?? [new Uint8Array(0), new Uint8Array(0)];
  if (x.length !== nn.length) return false;
  for (let i = 0; i < x.length; i++) if ((nn[i]! & m[i]!) !== (x[i]! & m[i]!)) return false;
  return true;
}

/** IPNet.String */
export function netString(n: IPNet): string {
  const nm = networkNumberAndMask(n);
  if (!nm) return '<nil>';
  const [nn, m] = nm;
  const l = simpleMaskLength(m);
  return l === -1 ? `${ipString(nn)}/${m.length === 0 ? '<nil>' : hex(m)}` : `${ipString(nn)}/${l}`;
}

/** IP.DefaultMask: the classful mask of an IPv4 address. */
export function defaultMask(ip: IP): Uint8Array | undefined {
  const v4 = to4(ip);
  if (!v4) return undefined;
  if (v4[0]! < 0x80) return cidrMask(8, 32);
  if (v4[0]! < 0xc0) return cidrMask(16, 32);
  return cidrMask(24, 32);
}

/** big.Int.SetBytes */
export function bytesToBig(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt(`0x${hex(b)}`);
}

/** big.Int.Bytes: minimal big-endian (empty for zero). */
export function bigToBytes(n: bigint): Uint8Array {
  if (n === 0n) return new Uint8Array(0);
  let h = n.toString(16);
  if (h.length % 2) h = `0${h}`;
  return Uint8Array.from(Buffer.from(h, 'hex'));
}
