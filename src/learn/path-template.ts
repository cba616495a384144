/**
 * Observed paths → path templates for the example policy's `exact_paths` (policies/authz.rego):
 * segments that are ids become variables, every other segment stays literal.
 *
 * Paths of one destination are walked position by position under each common prefix:
 * - a segment of digits becomes {int}, a UUID {uuid}, 16 or more hex digits (not all digits) {hex},
 *   wherever it appears, unless it is the only value of its kind at its position under its prefix
 *   and was seen more than twice: a constant (/rest/api/2/issue) stays literal;
 * - at one position under one prefix, when at least `minDistinct` of the other values look like ids
 *   (seen at most twice, or holding a digit) and they are most of the values there, those become
 *   one template segment, and what follows each of them is merged (/users/u-1/orders and
 *   /users/u-2/orders: /users/u-{int}/orders); the other values there stay literal.
 * That template segment is the narrowest one covering every value (segmentTemplate): their common
 * literal prefix and suffix, cut at a boundary (see commonPrefix), around the narrowest variable
 * that matches every middle part: {int}, then {hex}, {uuid}, {id}.
 * A value becomes a variable only if the policy's pattern for that variable matches it, so the
 * learned template always matches the call it came from (checked with segmentMatches, the
 * policy's segment_matches).
 */

export const INT = /^[0-9]+$/;
/** policies/authz.rego's pattern for {hex}: a hash, 16 hex digits or more. */
export const HEX = /^[0-9a-fA-F]{16,}$/;
export const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** policies/authz.rego's pattern for {id} and any other variable name. */
export const GENERIC = /^[A-Za-z0-9_][A-Za-z0-9._~:@+=,-]*$/;

export interface TemplateOptions {
  /** Distinct values at one position before they count as ids ({id}); default 10. */
  minDistinct: number;
}

/** A position where values were turned into a variable, for the review. */
export interface VariablePosition {
  /** The template up to and including the variable, e.g. /api/v1/orders/{int}. */
  prefix: string;
  distinct: number;
  /** A few of the values, for the reader to judge. */
  examples: string[];
  /**
   * In `literals` only: the values hold characters no variable matches (a space, "!", a leading
   * ".": see GENERIC), so no --min-distinct makes them one; a hand-written prefix rule can.
   */
  unmatched?: true;
  /**
   * In `literals` only: a number, UUID or hash that is the only one of its kind at this position
   * and was seen more than twice (a constant such as /rest/api/2/, or a single tenant), kept
   * literal; `calls` is how often it was seen.
   */
  constant?: true;
  calls?: number;
}

export interface Templated {
  /** The template of each path, in the order given: "/api/v1/orders/{int}"; the root is "/". */
  templates: string[];
  variables: VariablePosition[];
  /**
   * Positions where 3 or more id-like values stayed literal (too few for {id}): prefix is the
   * template before them, e.g. /api/v1/tenants. If they are ids, new ones will be denied. Id-like
   * values no variable can match (`unmatched`) are listed the same way, whatever their number.
   */
  literals: VariablePosition[];
}

/** Ranks of the variables, narrowest first: the learner picks the first that matches every value. */
const KINDS: readonly [string, RegExp][] = [
  ['{int}', INT],
  ['{hex}', HEX],
  ['{uuid}', UUID],
  ['{id}', GENERIC],
];

const isAlphanumeric = (c: string | undefined) => c !== undefined && /^[A-Za-z0-9]$/.test(c);
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const isLetter = (c: string | undefined) => c !== undefined && /^[A-Za-z]$/.test(c);

/**
 * The length of the longest literal prefix common to `values` that ends at a boundary, at most
 * `max` characters. A boundary is after a character that is not a letter or digit ("sku-",
 * "v1.", "id_"), or between a word and a digit in every value ("page" of page0, page11; "v" of
 * v1, v2), where a word is a run of letters that starts the segment or follows a character that
 * is not a letter or digit, and holds a letter other than a-f (hash-like ids such as 9abc1,
 * 9abc2 or abc1, abc2 give no prefix). So a common leading digit or letter of ids (1001, 1002;
 * sku-a1, sku-a2) never becomes part of a prefix, nor does a number between separators (the
 * "2026-11-" of dates, the "1.2." of versions: firstNumberField): the literal part is a word or
 * separator the service wrote, not a coincidence of the values seen.
 */
export function commonPrefix(values: readonly string[], max: number): number {
  const first = values[0] ?? '';
  let n = 0;
  while (n < max && values.every((v) => v[n] === first[n])) n++;
  n = Math.min(n, firstNumberField(first, n));
  for (; n > 0; n--) {
    const last = first[n - 1];
    if (!isAlphanumeric(last)) return n;
    if (isLetter(last) && values.every((v) => isDigit(v[n]))) {
      let start = n;
      while (start > 0 && isLetter(first[start - 1])) start--;
      if ((start === 0 || !isAlphanumeric(first[start - 1])) && isWord(first.slice(start, n))) return n;
    }
  }
  return 0;
}

/**
 * Where the first number field of `segment[0, end)` starts, or `end`: a run of digits that starts
 * the segment or follows a character that is not a letter or digit, and is followed, before `end`,
 * by such a character ("2026" and "11" of "2026-11-30", "1" and "2" of "1.2.3"; not the "1" of
 * "v1."). A shared year, month or version part is a value the calls happen to share, not a word
 * the service wrote: a prefix "2026-11-" learned from November's calls would deny December's.
 */
function firstNumberField(segment: string, end: number): number {
  for (let i = 0; i < end; i++) {
    if (!isDigit(segment[i]) || (i > 0 && isAlphanumeric(segment[i - 1]))) continue;
    let j = i;
    while (j < end && isDigit(segment[j])) j++;
    if (j < end && !isAlphanumeric(segment[j])) return i;
    i = j;
  }
  return end;
}

/** firstNumberField mirrored: where the last number field of `segment[start, length)` ends, or `start` ("-2026" of "q3-2026"). */
function lastNumberFieldEnd(segment: string, start: number): number {
  for (let j = segment.length; j > start; j--) {
    if (!isDigit(segment[j - 1]) || (j < segment.length && isAlphanumeric(segment[j]))) continue;
    let i = j;
    while (i > start && isDigit(segment[i - 1])) i--;
    if (i > start && !isAlphanumeric(segment[i - 1])) return j;
    j = i;
  }
  return start;
}

/** A run of letters that is not all hex digits (a–f): a word, not part of a hash. */
const isWord = (letters: string) => /[g-zG-Z]/.test(letters);

/**
 * The length of the longest literal suffix common to `values`, at most `max` characters, that
 * starts at a boundary: with a character that is not a letter or digit (".json", "-v2"), or with a
 * word after a digit in every value (the "px" of 12px; a word as in commonPrefix: letters up to
 * the end of the segment or to a character that is not a letter or digit, not all a–f).
 * commonPrefix mirrored.
 */
export function commonSuffix(values: readonly string[], max: number): number {
  const first = values[0] ?? '';
  const at = (v: string, n: number) => v[v.length - 1 - n];
  let n = 0;
  while (n < max && values.every((v) => at(v, n) === at(first, n))) n++;
  n = Math.min(n, first.length - lastNumberFieldEnd(first, first.length - n));
  for (; n > 0; n--) {
    const start = first.length - n;
    const head = first[start];
    if (!isAlphanumeric(head)) return n;
    if (isLetter(head) && values.every((v) => isDigit(v[v.length - n - 1]))) {
      let end = start;
      while (end < first.length && isLetter(first[end])) end++;
      if ((end === first.length || !isAlphanumeric(first[end])) && isWord(first.slice(start, end))) return n;
    }
  }
  return 0;
}

/**
 * The narrowest template segment matching every one of `values` (distinct segments that each
 * match GENERIC): literal prefix + one variable + literal suffix ("sku-{int}", "page{int}",
 * "{uuid}.json", "report-{id}.pdf"), or a whole-segment variable. The literal parts are the
 * longest common ones cut at boundaries (commonPrefix, commonSuffix), never overlapping, leaving
 * every value a non-empty middle. Narrowest means the first variable of {int}, {hex}, {uuid},
 * {id} that matches every middle; when cutting the prefix or the suffix back to an earlier
 * boundary allows a narrower variable ("order-{uuid}", not "order-0190a5d0-{id}" of UUIDs sharing
 * their first group), that wins; on a tie the longer literal parts win. The result matches every value (segmentMatches); otherwise "{id}".
 */
export function segmentTemplate(values: readonly string[]): string {
  if (values.length === 0) return '{id}';
  // A loop, not Math.min(...values): 150,000 values are more arguments than a call takes.
  let shortest = Infinity;
  for (const v of values) shortest = Math.min(shortest, v.length);
  // The three longest boundaries and none: a shorter literal part may leave a narrower variable
  // ("order-{uuid}" rather than "order-0190a5d0-{id}" of UUIDs that share their first group). At
  // most 16 candidates, each checked against every value.
  const boundaries = (longest: (max: number) => number, max: number) => {
    const out = [longest(max)];
    while (out.length < 3 && out[out.length - 1]! > 0) out.push(longest(out[out.length - 1]! - 1));
    if (out[out.length - 1] !== 0) out.push(0);
    return out;
  };
  const candidates = boundaries((max) => commonPrefix(values, max), shortest - 1).flatMap((p) => {
    const rests = values.map((v) => v.slice(p));
    return boundaries((max) => commonSuffix(rests, max), shortest - p - 1).map((s) => [p, s] as const);
  });
  let best: { template: string; rank: number; literal: number } | undefined;
  for (const [p, s] of candidates) {
    // Only a narrower variable, or the same one with longer literal parts, can win.
    const kinds = best ? KINDS.slice(0, p + s > best.literal ? best.rank + 1 : best.rank) : KINDS;
    const middles = values.map((v) => v.slice(p, v.length - s));
    const rank = kinds.findIndex(([, pattern]) => middles.every((m) => pattern.test(m)));
    if (rank < 0) continue;
    const first = values[0]!;
    const template = `${first.slice(0, p)}${KINDS[rank]![0]}${first.slice(first.length - s)}`;
    if (!values.every((v) => segmentMatches(v, template))) continue;
    if (!best || rank < best.rank || (rank === best.rank && p + s > best.literal)) best = { template, rank, literal: p + s };
  }
  return best?.template ?? '{id}';
}

/**
 * Whether a request segment matches a template segment as policies/authz.rego's segment_matches
 * does: a template segment is a whole-segment variable ("{int}": one "{" first, one "}" last, a
 * non-empty name between; "{}" and "{a}{b}" are literal text), one variable between a literal prefix and/or suffix ("sku-{int}",
 * exactly one "{" and one "}", a non-empty name), or else literal text compared exactly.
 */
export function segmentMatches(segment: string, template: string): boolean {
  if (!template.includes('{')) return segment === template;
  const parts = templateParts(template);
  if (!parts) return segment === template;
  if (parts[0] === '' && parts[2] === '') return variablePattern(template).test(segment);
  const [prefix, variable, suffix] = parts;
  // Code points, as Rego's count and substring.
  const chars = [...segment];
  const p = [...prefix].length;
  const s = [...suffix].length;
  if (!segment.startsWith(prefix) || !segment.endsWith(suffix) || chars.length - p - s <= 0) return false;
  return variablePattern(variable).test(chars.slice(p, chars.length - s).join(''));
}

/** [prefix, "{name}", suffix] of a template segment (policies/authz.rego template_parts), or undefined. */
export function templateParts(template: string): [string, string, string] | undefined {
  const open = template.indexOf('{');
  const close = template.indexOf('}');
  if (template.split('{').length !== 2 || template.split('}').length !== 2 || close <= open + 1) return undefined;
  return [template.slice(0, open), template.slice(open, close + 1), template.slice(close + 1)];
}

/** policies/authz.rego's variable_pattern. */
export function variablePattern(variable: string): RegExp {
  return variable === '{int}' ? INT : variable === '{hex}' ? HEX : variable === '{uuid}' ? UUID : GENERIC;
}

/** The segment's typed variable ({int}, {uuid}, {hex}), or undefined. */
export function typedVariable(segment: string): string | undefined {
  if (INT.test(segment)) return '{int}';
  if (UUID.test(segment)) return '{uuid}';
  if (HEX.test(segment)) return '{hex}';
  return undefined;
}

/**
 * Templates for `paths` (each the segments of input.parsed_path: ["api", "v1", "orders", "42"];
 * the root is [""]), all of one destination: ids vary per destination, not per caller.
 * `weights[i]` is how many calls `paths[i]` stands for (default 1).
 */
export function templatePaths(paths: readonly (readonly string[])[], options: TemplateOptions, weights?: readonly number[]): Templated {
  // Each path's template, a string shared by every path of its final group (no array per path).
  const templates: string[] = new Array<string>(paths.length);
  const variables: VariablePosition[] = [];
  const literals: VariablePosition[] = [];
  // Depth first with a stack of its own, not recursion: a logged path may have thousands of
  // segments (max_path_segments raised; /a/a/a/... fits in max_path_bytes), deeper than the call stack.
  // Each item: paths sharing one template prefix ("" at the root, else "/api/v1/orders/{int}").
  const work: [number[], number, string][] = [[paths.map((_, i) => i), 0, '']];
  while (work.length > 0) {
    const [indexes, depth, prefix] = work.pop()!;
    walk(indexes, depth, prefix);
  }
  return { templates, variables, literals };

  /** Assigns the template segment at `depth` to each of `indexes` (paths sharing one template prefix), then queues each group for the next depth. */
  function walk(indexes: number[], depth: number, prefix: string): void {
    const here: number[] = [];
    for (const i of indexes) {
      if (paths[i]!.length > depth) here.push(i);
      else templates[i] = prefix || '/';
    }
    if (here.length === 0) return;
    const shownPrefix = prefix === '/' ? '' : prefix;
    // Count the literal values at this position (typed ones are decided per segment).
    const untyped = new Map<string, number>();
    for (const i of here) {
      const segment = paths[i]![depth]!;
      if (typedVariable(segment) === undefined) untyped.set(segment, (untyped.get(segment) ?? 0) + (weights?.[i] ?? 1));
    }
    // Id-like: seen at most twice, or holding a digit. Enough of them, and most values here, make {id};
    // the other values stay literal (an endpoint name called all day is not an id).
    const collapsible = [...untyped.entries()].filter(([value]) => GENERIC.test(value));
    const idLike = collapsible.filter(([value, n]) => n <= 2 || /[0-9]/.test(value));
    const collapse = idLike.length >= options.minDistinct && idLike.length * 2 >= collapsible.length;
    const idValues = new Set(collapse ? idLike.map(([value]) => value) : []);
    if (!collapse && idLike.length >= 3) {
      literals.push({ prefix: shownPrefix, distinct: idLike.length, examples: idLike.slice(0, 3).map(([value]) => value) });
    }
    // Id-like values the generic pattern refuses ("report 12.pdf"): literal whatever --min-distinct says.
    const unmatched = [...untyped.entries()].filter(([value, n]) => !GENERIC.test(value) && (n <= 2 || /[0-9]/.test(value)));
    if (unmatched.length >= 3) {
      literals.push({ prefix: shownPrefix, distinct: unmatched.length, examples: unmatched.slice(0, 3).map(([value]) => value), unmatched: true });
    }

    // A typed value that is the only one of its kind here and was seen more than twice is a
    // constant (an API version /rest/api/2/, a single tenant), not an id: it stays literal.
    const typed = new Map<string, Map<string, number>>();
    for (const i of here) {
      const segment = paths[i]![depth]!;
      const kind = typedVariable(segment);
      if (kind === undefined) continue;
      const values = typed.get(kind) ?? new Map<string, number>();
      values.set(segment, (values.get(segment) ?? 0) + (weights?.[i] ?? 1));
      typed.set(kind, values);
    }
    const constants = new Set<string>();
    for (const values of typed.values()) {
      const [only] = values;
      if (values.size === 1 && only![1] > 2) {
        constants.add(only![0]);
        literals.push({ prefix: shownPrefix, distinct: 1, examples: [only![0]], constant: true, calls: only![1] });
      }
    }

    // The collapsed values share one template segment, the narrowest that covers them all.
    const idTemplate = collapse ? segmentTemplate([...idValues]) : '{id}';
    const groups = new Map<string, number[]>();
    const variableTemplates = new Set<string>();
    for (const i of here) {
      const segment = paths[i]![depth]!;
      const typedHere = constants.has(segment) ? undefined : typedVariable(segment);
      const template = idValues.has(segment) ? idTemplate : (typedHere ?? segment);
      if (idValues.has(segment) || typedHere !== undefined) variableTemplates.add(template);
      const group = groups.get(template);
      if (group) group.push(i);
      else groups.set(template, [i]);
    }
    const next: [number[], number, string][] = [];
    for (const [template, group] of groups) {
      const groupPrefix = `${prefix}/${template}`;
      if (variableTemplates.has(template)) {
        const values = new Set(group.map((i) => paths[i]![depth]!));
        variables.push({ prefix: groupPrefix, distinct: values.size, examples: [...values].slice(0, 3) });
      }
      next.push([group, depth + 1, groupPrefix]);
    }
    // Reversed onto the stack, so the groups are walked in order, each to its end, as recursion would.
    for (let i = next.length - 1; i >= 0; i--) work.push(next[i]!);
  }
}
