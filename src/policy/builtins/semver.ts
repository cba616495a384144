/**
 * Host builtins: semver.compare, semver.is_valid. OPA parses versions with its own small parser
 * (internal/semver), looser than SemVer 2.0 in places (a leading `v`, leading zeros, empty
 * pre-release or build parts are accepted) and stricter in others (major/minor/patch must fit in
 * int64). The npm `semver` package differs in both directions, so this is a port of that parser.
 */
import { stringArg } from './args.js';
import { BuiltinError, type BuiltinFamily } from './types.js';

interface Version {
  major: bigint;
  minor: bigint;
  patch: bigint;
  preRelease: string;
}

const IDENTIFIERS = /^[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*$/;
const INT64_MAX = (1n << 63n) - 1n;

function cut(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}

/** Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits, in range. */
function parseInt64(s: string): bigint | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = BigInt(s);
  return n > INT64_MAX || n < -INT64_MAX - 1n ? undefined : n;
}

/** internal/semver.Parse; undefined where it returns an error. */
export function parseSemver(text: string): Version | undefined {
  let version = text.startsWith('v') ? text.slice(1) : text;
  let metadata: string;
  [version, metadata] = cut(version, '+');
  if (metadata !== '' && !IDENTIFIERS.test(metadata)) return undefined;
  let preRelease: string;
  [version, preRelease] = cut(version, '-');
  if (preRelease !== '' && !IDENTIFIERS.test(preRelease)) return undefined;
  const parts = version.split('.');
  if (parts.length !== 3) return undefined;
  const [major, minor, patch] = parts.map(parseInt64);
  if (major === undefined || minor === undefined || patch === undefined) return undefined;
  return { major, minor, patch, preRelease };
}

const isAllDecimals = (s: string) => /^\d+$/.test(s);

/** Go's strconv.Atoi, which clamps out-of-range values to int64's bounds. */
function atoi(s: string): bigint {
  const n = BigInt(s);
  return n > INT64_MAX ? INT64_MAX : n;
}

const sign = (a: bigint | string, b: bigint | string) => (a > b ? 1 : a < b ? -1 : 0);

/** Byte-wise string order (Go), not UTF-16 order; identifiers are ASCII so they agree. */
export function compareSemver(v: Version, o: Version): number {
  for (const k of ['major', 'minor', 'patch'] as const) {
    const c = sign(v[k], o[k]);
    if (c !== 0) return c;
  }
  if (v.preRelease === o.preRelease) return 0;
  if (v.preRelease === '') return 1;
  if (o.preRelease === '') return -1;
  let [a, afterA] = cut(v.preRelease, '.');
  let [b, afterB] = cut(o.preRelease, '.');
  for (;;) {
    if (a === '' && b !== '') return -1;
    if (a !== '' && b === '') return 1;
    const aInt = isAllDecimals(a);
    const bInt = isAllDecimals(b);
    if (aInt !== bInt) return aInt ? -1 : 1;
    const c = aInt ? sign(atoi(a), atoi(b)) : sign(a, b);
    if (c !== 0) return c;
    if (afterA !== '' && afterB === '') return 1;
    if (afterA === '' && afterB !== '') return -1;
    [a, afterA] = cut(afterA, '.');
    [b, afterB] = cut(afterB, '.');
  }
}

export const semverBuiltins: BuiltinFamily = {
  'semver.compare': {
    fn: (_ctx, a, b) => {
      const textA = stringArg('semver.compare', 1, a);
      const textB = stringArg('semver.compare', 2, b);
      const va = parseSemver(textA);
      if (!va) throw new BuiltinError('semver.compare', `operand 1: string ${textA} is not a valid SemVer`);
      const vb = parseSemver(textB);
      if (!vb) throw new BuiltinError('semver.compare', `operand 2: string ${textB} is not a valid SemVer`);
      return compareSemver(va, vb);
    },
  },
  'semver.is_valid': {
    fn: (_ctx, value) => typeof value === 'string' && parseSemver(value) !== undefined,
  },
};
