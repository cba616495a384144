/**
 * Whether two globs of OPA's `regex.globs_match` share a non-empty string: a faithful port of
 * github.com/yashtewari/glob-intersection v0.2.0 (the module OPA v1.19.1 calls, `NonEmpty`), which
 * has no npm equivalent. Its globs are regex-like: `.` any character, `[a-z]` a set, `+` and `*`
 * after a token, `\` escapes. Port differences: sets are kept as sorted rune ranges instead of one
 * map entry per rune (same answers, bounded memory for `[\x00-\x{10FFFF}]`).
 */

const enum Kind {
  Character = 0,
  Dot = 1,
  Set = 2,
}

const enum Flag {
  None = 0,
  Plus = 1,
  Star = 2,
}

interface Token {
  kind: Kind;
  flag: Flag;
  /** The rune of a Character. */
  rune: number;
  /** The runes of a Set: sorted, merged, inclusive [lo, hi] ranges. */
  ranges: [number, number][];
}

export class GlobSyntaxError extends Error {}

/** gintersect.NonEmpty. @throws GlobSyntaxError for a malformed glob. */
export function globsIntersect(lhs: string, rhs: string): boolean {
  const trimmed = trimGlobs(newGlob(lhs), newGlob(rhs));
  if (!trimmed) return false;
  return intersectNormal(trimmed[0], trimmed[1]);
}

function newGlob(input: string): Token[] {
  return simplify(tokenize(Array.from(input, (ch) => ch.codePointAt(0)!)));
}

// ---- tokenize.go ----

const END = Symbol('end of input');

interface NextRune {
  next: number;
  rune: number;
  escaped: boolean;
}

function invalid(input: number[], index: number, message: string): GlobSyntaxError {
  return new GlobSyntaxError(`input:${String.fromCodePoint(...input)}, pos:${index}, ${message}: the input provided is invalid`);
}

function nextRune(index: number, input: number[]): NextRune | typeof END {
  if (index >= input.length) return END;
  if (input[index] === 0x5c /* \ */) {
    if (index < input.length - 1) return { next: index + 2, rune: input[index + 1]!, escaped: true };
    throw invalid(input, index, 'input ends with a \\ (escape) character');
  }
  return { next: index + 1, rune: input[index]!, escaped: false };
}

function flagOf(rune: number): Flag {
  if (rune === 0x2b /* + */) return Flag.Plus;
  if (rune === 0x2a /* * */) return Flag.Star;
  return Flag.None;
}

function tokenize(input: number[]): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  for (;;) {
    const r = nextRune(index, input);
    if (r === END) return tokens;
    let token: Token;
    index = r.next;
    if (!r.escaped && r.rune === 0x2e /* . */) {
      token = { kind: Kind.Dot, flag: Flag.None, rune: 0, ranges: [] };
    } else if (!r.escaped && r.rune === 0x5d /* ] */) {
      throw invalid(input, index, "set-close ']' with no preceding '['");
    } else if (!r.escaped && r.rune === 0x5b /* [ */) {
      const set = nextTokenSet(index, input);
      index = set.next;
      token = set.token;
    } else if (!r.escaped && flagOf(r.rune) !== Flag.None) {
      throw invalid(input, index, `flag '${String.fromCodePoint(r.rune)}' must be preceded by a non-flag`);
    } else {
      token = { kind: Kind.Character, flag: Flag.None, rune: r.rune, ranges: [] };
    }
    // nextFlag: an unescaped + or * right after the token.
    const f = nextRune(index, input);
    if (f !== END && !f.escaped && flagOf(f.rune) !== Flag.None) {
      token.flag = flagOf(f.rune);
      index = f.next;
    }
    tokens.push(token);
  }
}

function nextTokenSet(start: number, input: number[]): { next: number; token: Token } {
  const runes: [number, number][] = [];
  let prev = 0;
  let prevExists = false;
  let index = start;
  for (;;) {
    let r = nextRune(index, input);
    if (r === END) throw invalid(input, index, 'found [ without matching ]');
    index = r.next;
    if (r.escaped) {
      runes.push([r.rune, r.rune]);
      prev = r.rune;
      prevExists = true;
      continue;
    }
    if (r.rune === 0x5d /* ] */) return { next: index, token: { kind: Kind.Set, flag: Flag.None, rune: 0, ranges: mergeRanges(runes) } };
    if (r.rune !== 0x2d /* - */) {
      runes.push([r.rune, r.rune]);
      prev = r.rune;
      prevExists = true;
      continue;
    }
    if (!prevExists) throw invalid(input, index, "range character '-' must be preceded by a Unicode character");
    if (index >= input.length - 1) throw invalid(input, index, "range character '-' must be followed by a Unicode character");
    r = nextRune(index, input) as NextRune; // cannot be END: at least two runes remain
    index = r.next;
    if (!r.escaped && (r.rune === 0x5d || r.rune === 0x2d)) {
      throw invalid(input, index, "range character '-' cannot be followed by a special symbol");
    }
    if (r.rune < prev) {
      throw invalid(input, index, `range is out of order: '${String.fromCodePoint(r.rune)}' comes before '${String.fromCodePoint(prev)}' in Unicode`);
    }
    runes.push([prev, r.rune]);
    prevExists = false;
  }
}

function mergeRanges(ranges: [number, number][]): [number, number][] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = merged[merged.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else merged.push([lo, hi]);
  }
  return merged;
}

// ---- glob.go / simplify.go ----

function equalTokens(a: Token, b: Token): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === Kind.Character) return a.rune === b.rune;
  if (a.kind === Kind.Dot) return true;
  return a.ranges.length === b.ranges.length && a.ranges.every(([lo, hi], i) => lo === b.ranges[i]![0] && hi === b.ranges[i]![1]);
}

/** Merge adjacent equal flagged tokens (t*t+ → t+, t*t* → t*). */
function simplify(tokens: Token[]): Token[] {
  if (tokens.length === 0) return tokens;
  const simple: Token[] = [tokens[0]!];
  let latest = tokens[0]!;
  for (const token of tokens.slice(1)) {
    if (token.flag !== Flag.None && latest.flag !== Flag.None && equalTokens(token, latest)) {
      simple[simple.length - 1]!.flag = token.flag === Flag.Plus || latest.flag === Flag.Plus ? Flag.Plus : Flag.Star;
      continue;
    }
    latest = token;
    simple.push(token);
  }
  return simple;
}

// ---- match.go ----

function inRanges(rune: number, ranges: [number, number][]): boolean {
  return ranges.some(([lo, hi]) => lo <= rune && rune <= hi);
}

/** Single-token match, ignoring flags. */
function match(t1: Token, t2: Token): boolean {
  const [a, b] = t1.kind <= t2.kind ? [t1, t2] : [t2, t1];
  if (a.kind === Kind.Character) {
    if (b.kind === Kind.Character) return a.rune === b.rune;
    if (b.kind === Kind.Dot) return true;
    return inRanges(a.rune, b.ranges);
  }
  if (a.kind === Kind.Dot) return true;
  return a.ranges.some(([lo, hi]) => b.ranges.some(([lo2, hi2]) => lo <= hi2 && lo2 <= hi));
}

// ---- non_empty.go ----

function trimGlobs(g1: Token[], g2: Token[]): [Token[], Token[]] | undefined {
  let l = 0;
  for (; l < g1.length && l < g2.length && g1[l]!.flag === Flag.None && g2[l]!.flag === Flag.None; l++) {
    if (!match(g1[l]!, g2[l]!)) return undefined;
  }
  if (l > 0) l--;
  let r1 = g1.length - 1;
  let r2 = g2.length - 1;
  for (; r1 >= 0 && r1 >= l && r2 >= 0 && r2 >= l && g1[r1]!.flag === Flag.None && g2[r2]!.flag === Flag.None; r1--, r2--) {
    if (!match(g1[r1]!, g2[r2]!)) return undefined;
  }
  if (r1 < g1.length - 1) {
    r1++;
    r2++;
  }
  return [g1.slice(l, r1 + 1), g2.slice(l, r2 + 1)];
}

function intersectNormal(g1: Token[], g2: Token[]): boolean {
  let i = 0;
  let j = 0;
  for (; i < g1.length && j < g2.length; i++, j++) {
    if (g1[i]!.flag === Flag.None && g2[j]!.flag === Flag.None) {
      if (!match(g1[i]!, g2[j]!)) return false;
    } else {
      return intersectSpecial(g1.slice(i), g2.slice(j));
    }
  }
  return i === g1.length && j === g2.length;
}

function intersectSpecial(g1: Token[], g2: Token[]): boolean {
  if (g1[0]!.flag !== Flag.None) return g1[0]!.flag === Flag.Plus ? intersectPlus(g1, g2) : intersectStar(g1, g2);
  return g2[0]!.flag === Flag.Plus ? intersectPlus(g2, g1) : intersectStar(g2, g1);
}

function intersectPlus(plussed: Token[], other: Token[]): boolean {
  if (!match(plussed[0]!, other[0]!)) return false;
  if (intersectStar(plussed, other.slice(1))) return true;
  return other[0]!.flag !== Flag.None && intersectNormal(plussed.slice(1), other);
}

function intersectStar(starred: Token[], other: Token[]): boolean {
  const starToken = starred[0]!;
  const nextToken = starred[1];
  for (let i = 0; i < other.length; i++) {
    const t = other[i]!;
    if (nextToken !== undefined && match(t, nextToken)) {
      if (intersectNormal(starred.slice(1), other.slice(i))) return true;
      if (!match(t, starToken)) return false;
    } else if (!match(t, starToken)) {
      return false;
    }
  }
  return nextToken === undefined;
}
