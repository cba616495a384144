/**
 * Host builtins: net.cidr_contains_matches, net.cidr_expand, net.cidr_is_valid, net.cidr_merge
 * (topdown/cidr.go). Addresses and networks follow Go's net package (go-net.ts): an IPv4-mapped
 * IPv6 address is the IPv4 address, a bare IPv4 address given to cidr_merge takes its classful
 * mask, an IPv6 address needs a prefix length. net.cidr_contains, cidr_intersects and cidr_overlap
 * are compiled into policy.wasm.
 */
import { stringArg, typeName } from './args.js';
import { mergeNetworks } from './cidr-merge.js';
import {
  bigToBytes,
  bytesToBig,
  defaultMask,
  type IP,
  type IPNet,
  ipMask,
  ipString,
  maskSize,
  netContains,
  netString,
  parseCIDR,
  parseIP,
  to4,
} from './go-net.js';
import { BuiltinError, type BuiltinFamily, type RegoValue } from './types.js';
import { ValueSet } from './value-order.js';

/** cidr_expand refuses networks with more addresses than this (OPA expands until cancelled). */
export const MAX_EXPANSION = 65_536;

function networkArg(builtin: string, value: RegoValue | undefined): IPNet {
  const s = stringArg(builtin, 1, value);
  const parsed = parseCIDR(s);
  if (!parsed) throw new BuiltinError(builtin, `invalid CIDR address: ${s}`);
  return parsed.net;
}

/** getLastIP */
function lastIP(n: IPNet): IP {
  const [ones, bits] = maskSize(n.mask);
  if (ones === 0 && bits === 0) throw new Error('CIDR mask is in non-standard format');
  if (ones === bits) return n.ip;
  const last = bytesToBig(n.ip) | ((1n << BigInt(bits - ones)) - 1n);
  const b = bigToBytes(last);
  const out = new Uint8Array(bits / 8);
  out.set(b.subarray(Math.max(0, b.length - out.length)), Math.max(0, out.length - b.length));
  return out;
}

/** builtinNetCIDRContains (net.cidr_contains): does network `a` contain the address or network `b`? */
function cidrContains(builtin: string, a: RegoValue, b: RegoValue): boolean {
  const network = networkArg(builtin, a);
  const text = stringArg(builtin, 1, b);
  const ip = parseIP(text);
  if (ip) return netContains(network, ip);
  const other = parseCIDR(text);
  if (!other) throw new BuiltinError(builtin, `not a valid textual representation of an IP address or CIDR: ${text}`);
  return netContains(network, other.net.ip) && netContains(network, lastIP(other.net));
}

/** The (cidr, index) pairs of a cidr_contains_matches operand. */
function matchOperand(operand: number, value: RegoValue): [RegoValue, RegoValue][] {
  const cidrOf = (item: RegoValue): RegoValue => {
    if (typeof item === 'string') return item;
    if (Array.isArray(item) && item.length > 0) return item[0]!;
    throw new BuiltinError('net.cidr_contains_matches', `operand ${operand}: element must be string or non-empty array`);
  };
  if (typeof value === 'string') return [[value, value]];
  if (Array.isArray(value)) return value.map((item, i) => [cidrOf(item), i]);
  if (value instanceof Set) return [...value].map((item) => [cidrOf(item), item]);
  if (value instanceof Map) return [...value].map(([k, item]) => [cidrOf(item), k]);
  if (value !== null && typeof value === 'object') return Object.entries(value).map(([k, item]) => [cidrOf(item), k]);
  return [];
}

function cidrContainsMatches(a: RegoValue, b: RegoValue): Set<RegoValue> {
  const result = new ValueSet();
  const right = matchOperand(2, b);
  for (const [cidr1, index1] of matchOperand(1, a)) {
    for (const [cidr2, index2] of right) {
      if (cidrContains('net.cidr_contains_matches', cidr1, cidr2)) result.add([index1, index2]);
    }
  }
  return result.toSet();
}

function incIP(ip: IP): void {
  for (let j = ip.length - 1; j >= 0; j--) {
    ip[j] = (ip[j]! + 1) & 0xff;
    if (ip[j]! > 0) break;
  }
}

function cidrExpand(value: RegoValue | undefined): Set<RegoValue> {
  const s = stringArg('net.cidr_expand', 1, value);
  const parsed = parseCIDR(s);
  if (!parsed) throw new BuiltinError('net.cidr_expand', `invalid CIDR address: ${s}`);
  const [ones, bits] = maskSize(parsed.net.mask);
  if (bits - ones > Math.log2(MAX_EXPANSION)) {
    throw new BuiltinError('net.cidr_expand', `${s} has more than ${MAX_EXPANSION} addresses`);
  }
  const result = new Set<RegoValue>();
  for (let ip = Uint8Array.from(ipMask(parsed.ip, parsed.net.mask)!); netContains(parsed.net, ip); incIP(ip)) {
    result.add(ipString(ip));
  }
  return result;
}

/** generateIPNet: an address (IPv4 only, classful mask) or a CIDR. */
function mergeElement(item: RegoValue): IPNet {
  if (typeof item !== 'string') throw new BuiltinError('net.cidr_merge', 'element must be string');
  const ip = parseIP(item);
  if (!ip) {
    const parsed = parseCIDR(item);
    if (!parsed) throw new BuiltinError('net.cidr_merge', `invalid CIDR address: ${item}`);
    return parsed.net;
  }
  if (to4(ip)) return { ip, mask: defaultMask(ip)! };
  throw new BuiltinError('net.cidr_merge', 'IPv6 invalid: needs prefix length');
}

function cidrMerge(value: RegoValue | undefined): Set<RegoValue> {
  let items: RegoValue[];
  if (Array.isArray(value)) items = value;
  else if (value instanceof Set) items = [...value];
  else throw new BuiltinError('net.cidr_merge', `operand must be an array (got ${typeName(value)})`);
  return new Set(mergeNetworks(items.map(mergeElement)).map(netString));
}

export const netBuiltins: BuiltinFamily = {
  'net.cidr_contains_matches': { fn: (_ctx, a, b) => cidrContainsMatches(a!, b!) },
  'net.cidr_expand': {
    fn: (_ctx, value) => cidrExpand(value),
    note: `Networks of more than ${MAX_EXPANSION} addresses are an error in gatehouse (OPA expands them until the evaluation is cancelled).`,
  },
  'net.cidr_is_valid': { fn: (_ctx, value) => typeof value === 'string' && parseCIDR(value) !== undefined },
  'net.cidr_merge': {
    fn: (_ctx, value) => cidrMerge(value),
    note: 'Merging overlapping IPv4-mapped IPv6 networks (::ffff:a.b.c.d/n) is undefined in gatehouse; OPA panics on it.',
  },
};
