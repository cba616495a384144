/**
 * Host builtins: uuid.rfc4122, uuid.parse (topdown/uuid.go, internal/uuid). uuid.parse follows
 * github.com/google/uuid's Parse (36-character form, `urn:uuid:` prefix, any 38-character form
 * with one character either side, 32 hex digits) and returns OPA's object: version and variant for
 * every UUID, plus time, node id, MAC flags and clock sequence for versions 1 and 2, and id and
 * domain for version 2.
 */
import { randomBytes } from 'node:crypto';
import { newObject, stringArg } from './args.js';
import { type BuiltinFamily, type RegoObject, type RegoValue } from './types.js';

/** A version 4 UUID, formatted as OPA's internal/uuid.New does. */
function newUuid(): string {
  const b = randomBytes(16);
  b[8] = (b[8]! & 0x3f) | 0x80;
  b[6] = (b[6]! & 0x0f) | 0x40;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const HEX_PAIR = /^[0-9a-fA-F]{2}$/;
const OFFSETS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/** google/uuid.Parse; lengths are in bytes, as in Go. */
export function parseUuidBytes(text: string): Uint8Array | undefined {
  let s = Buffer.from(text, 'utf8').toString('latin1'); // one char per byte
  const out = new Uint8Array(16);
  const pair = (i: number): number | undefined => {
    const hex = s.slice(i, i + 2);
    return HEX_PAIR.test(hex) ? parseInt(hex, 16) : undefined;
  };
  switch (s.length) {
    case 36:
      break;
    case 45:
      if (s.slice(0, 9).toLowerCase() !== 'urn:uuid:') return undefined;
      s = s.slice(9);
      break;
    case 38:
      s = s.slice(1);
      break;
    case 32:
      for (let i = 0; i < 16; i++) {
        const v = pair(i * 2);
        if (v === undefined) return undefined;
        out[i] = v;
      }
      return out;
    default:
      return undefined;
  }
  if (s[8] !== '-' || s[13] !== '-' || s[18] !== '-' || s[23] !== '-') return undefined;
  for (const [i, x] of OFFSETS.entries()) {
    const v = pair(x);
    if (v === undefined) return undefined;
    out[i] = v;
  }
  return out;
}

function variant(b8: number): string {
  if ((b8 & 0xc0) === 0x80) return 'RFC4122';
  if ((b8 & 0xe0) === 0xc0) return 'Microsoft';
  if ((b8 & 0xe0) === 0xe0) return 'Future';
  return 'Reserved';
}

function macVariables(first: number): string {
  if ((first & 0b11) === 0b11) return 'local:multicast';
  if ((first & 0b01) === 0b01) return 'global:multicast';
  if ((first & 0b10) === 0b10) return 'local:unicast';
  return 'global:unicast';
}

/** 100-ns intervals between 1582-10-15 and the Unix epoch. */
const G1582 = 122192928000000000n;

function parseUuid(text: string): RegoObject | undefined {
  const u = parseUuidBytes(text);
  if (!u) return undefined;
  const view = new DataView(u.buffer);
  const out = newObject();
  const version = u[6]! >> 4;
  out.version = version;
  out.variant = variant(u[8]!);
  if (version === 1 || version === 2) {
    const time = BigInt(view.getUint32(0)) | (BigInt(view.getUint16(4)) << 32n) | (BigInt(view.getUint16(6) & 0xfff) << 48n);
    // Go: sec*1e9 + nsec in int64, which wraps for times past 2262
    const ns = BigInt.asIntN(64, (time - G1582) * 100n);
    out.time = Number.isSafeInteger(Number(ns)) ? Number(ns) : ns;
    out.nodeid = [...u.slice(10)].map((b) => b.toString(16).padStart(2, '0')).join('-');
    out.macvariables = macVariables(u[10]!);
    out.clocksequence = view.getUint16(8) & 0x3fff;
    if (version === 2) {
      out.id = view.getUint32(0);
      const domain = u[9]!;
      out.domain = ['Person', 'Group', 'Org'][domain] ?? `Domain${domain}`;
    }
  }
  return out;
}

export const uuidBuiltins: BuiltinFamily = {
  'uuid.rfc4122': {
    fn: (ctx, key) => {
      const memoKey = `uuid.rfc4122\u0000${stringArg('uuid.rfc4122', 1, key)}`;
      const seen = ctx.memo.get(memoKey);
      if (seen !== undefined) return seen;
      const value: RegoValue = newUuid();
      ctx.memo.set(memoKey, value);
      return value;
    },
    nondeterministic: true,
    note: 'A random version 4 UUID; the same key gives the same UUID within one evaluation, as in OPA.',
  },
  'uuid.parse': {
    fn: (_ctx, value) => parseUuid(stringArg('uuid.parse', 1, value)),
  },
};
