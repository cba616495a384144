/**
 * net.cidr_merge's algorithm, ported from OPA (topdown/cidr.go mergeCIDRs and
 * internal/cidr/merge, itself from Cilium): sort the ranges by last then first address, fold
 * overlapping or adjacent ones from the end, and turn each merged range back into CIDRs by
 * partitioning a spanning CIDR. Kept step for step, byte slices and all, because the printed
 * result depends on them (an unmerged network keeps its unmasked address: "200.1.1.1" → "200.1.1.1/24").
 */
import {
  bigToBytes,
  bytesToBig,
  cidrMask,
  compareBytes,
  concat,
  ipEqual,
  ipMask,
  type IP,
  type IPNet,
  maskSize,
  to16,
  to4,
} from './go-net.js';

const V4_MAPPED_PREFIX = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff);
const DEFAULT_IPV4 = concat(V4_MAPPED_PREFIX, new Uint8Array(4));
const DEFAULT_IPV6 = new Uint8Array(16);
const UPPER_IPV4 = concat(V4_MAPPED_PREFIX, Uint8Array.of(255, 255, 255, 255));
const UPPER_IPV6 = new Uint8Array(16).fill(255);
const IPV4_LEADING_ZEROES = new Uint8Array(10);

interface Range {
  first: IP;
  last: IP;
  network: IPNet | undefined;
}

/** GetAddressRange */
function addressRange(n: IPNet): [IP, IP] {
  const masked = ipMask(n.ip, n.mask);
  // Go indexes into the nil slice and panics (merged IPv4-mapped IPv6 networks get here); an error here
  if (!masked && n.mask.length > 0) throw new Error('net.cidr_merge: address and mask of different lengths');
  let first: Uint8Array = masked ?? new Uint8Array(0);
  let last: Uint8Array = Uint8Array.from(first);
  if (to4(first)) {
    first = concat(V4_MAPPED_PREFIX, first);
    last = concat(V4_MAPPED_PREFIX, last);
  }
  for (let i = 0; i < n.mask.length; i++) {
    const m = ~n.mask[n.mask.length - i - 1]! & 0xff;
    last[16 - i - 1]! |= m;
  }
  return [first, last];
}

/** GetPreviousIP */
function previousIP(ip: IP): IP {
  if (ipEqual(ip, DEFAULT_IPV4) || ipEqual(ip, DEFAULT_IPV6)) return ip;
  const prev = Uint8Array.from(ip);
  const lower = to4(ip) ? 12 : 0;
  let overflow = false;
  for (let i = ip.length - 1; i >= lower; i--) {
    if (overflow || i === ip.length - 1) prev[i] = (prev[i]! - 1) & 0xff;
    overflow = ip[i] === 0 && prev[i] === 255;
  }
  return prev;
}

/** getNextIP */
function nextIP(ip: IP): IP {
  if (ipEqual(ip, UPPER_IPV4) || ipEqual(ip, UPPER_IPV6)) return ip;
  if (ip.length === 4) return bigToFixed((bytesToBig(ip) + 1n) & 0xffffffffn, 4);
  if (ip.length !== 16) return ip;
  const lowHalf = (bytesToBig(ip.subarray(8)) + 1n) & 0xffffffffffffffffn;
  const highHalf = lowHalf === 0n ? (bytesToBig(ip.subarray(0, 8)) + 1n) & 0xffffffffffffffffn : bytesToBig(ip.subarray(0, 8));
  return concat(bigToFixed(highHalf, 8), bigToFixed(lowHalf, 8));
}

function bigToFixed(n: bigint, length: number): Uint8Array {
  const b = bigToBytes(n);
  return concat(new Uint8Array(Math.max(0, length - b.length)), b);
}

/** createSpanningCIDR */
function spanningCIDR(lowest: IP, highest: IP): IPNet {
  const isV4 = to4(lowest) !== undefined;
  const bitLen = isV4 ? 32 : 128;
  let size = bitLen;
  const low = bytesToBig(lowest);
  let high = bytesToBig(highest);
  while (size > 0 && low < high) {
    size--;
    high &= -(1n << BigInt(bitLen - size));
  }
  let ip = isV4 ? concat(IPV4_LEADING_ZEROES, bigToBytes(high)) : bigToBytes(high);
  if (ip.length === 0) ip = new Uint8Array(isV4 ? 4 : 16);
  return { ip, mask: cidrMask(size, bitLen) };
}

/** partitionCIDR: [left, right] (the exclude list is never used). */
function partitionCIDR(target: IPNet, exclude: IPNet): [IPNet[], IPNet[]] {
  const targetIsV4 = to4(target.ip) !== undefined;
  const [targetFirst, targetLast] = addressRange(target);
  const [excludeFirst, excludeLast] = addressRange(exclude);
  const [targetMaskSize] = maskSize(target.mask);
  const [excludeMaskSize] = maskSize(exclude.mask);
  if (compareBytes(excludeLast, targetFirst) < 0) return [[], [target]];
  if (compareBytes(targetLast, excludeFirst) < 0) return [[target], []];
  if (targetMaskSize >= excludeMaskSize) return [[], []];
  const left: IPNet[] = [];
  const right: IPNet[] = [];
  const bitLen = targetIsV4 ? 32 : 128;
  let newPrefixLen = targetMaskSize + 1;
  let lower = bytesToBig(targetFirst);
  let upper = bytesToBig(to16(targetFirst)) + (1n << BigInt(bitLen - newPrefixLen));
  let matched = 0n;
  const toBytes = (n: bigint) => (targetIsV4 ? concat(IPV4_LEADING_ZEROES, bigToBytes(n)) : bigToFixed(n, 16));
  while (excludeMaskSize >= newPrefixLen) {
    const upperBytes = toBytes(upper);
    const lowerBytes = toBytes(lower);
    if (compareBytes(excludeFirst, upperBytes) >= 0) {
      left.push({ ip: lowerBytes, mask: cidrMask(newPrefixLen, bitLen) });
      matched = upper;
    } else {
      right.push({ ip: upperBytes, mask: cidrMask(newPrefixLen, bitLen) });
      matched = lower;
    }
    newPrefixLen++;
    if (newPrefixLen > bitLen) break;
    lower = matched;
    upper = matched + (1n << BigInt(bitLen - newPrefixLen));
  }
  return [left, right];
}

/** RangeToCIDRs */
function rangeToCIDRs(first: IP, last: IP): IPNet[] {
  let spanning = spanningCIDR(first, last);
  const [spanFirst, spanLast] = addressRange(spanning);
  let list: IPNet[] = [];
  if (compareBytes(spanFirst, first) < 0) {
    const prev = previousIP(first);
    const bitLen = to4(prev) ? 32 : 128;
    const [, right] = partitionCIDR(spanning, { ip: prev, mask: cidrMask(bitLen, bitLen) });
    // Go indexes right[0] here; an empty partition would panic there, and is an error here
    if (right.length === 0) throw new Error('net.cidr_merge: empty partition');
    list.push(...right);
    spanning = right[0]!;
    list = list.slice(1);
  }
  if (compareBytes(spanLast, last) > 0) {
    const next = nextIP(last);
    const bitLen = to4(next) ? 32 : 128;
    const [left] = partitionCIDR(spanning, { ip: next, mask: cidrMask(bitLen, bitLen) });
    list.push(...left);
  } else {
    list.push(spanning);
  }
  return list;
}

/** evalNetCIDRMerge */
export function mergeNetworks(networks: IPNet[]): IPNet[] {
  const ranges: Range[] = networks.map((network) => {
    const [first, last] = addressRange(network);
    return { first, last, network };
  });
  ranges.sort((a, b) => compareBytes(a.last, b.last) || compareBytes(a.first, b.first));
  for (let i = ranges.length - 1; i > 0; i--) {
    const current = ranges[i]!;
    const before = ranges[i - 1]!;
    if (compareBytes(previousIP(current.first), before.last) <= 0) {
      const first = compareBytes(before.first, current.first) < 0 ? before.first : current.first;
      ranges[i - 1] = { first: Uint8Array.from(first), last: Uint8Array.from(current.last), network: undefined };
      ranges.splice(i, 1);
    }
  }
  return ranges.flatMap((r) => (r.network ? [r.network] : rangeToCIDRs(r.first, r.last)));
}
