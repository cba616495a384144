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
 *   {id}, and what follows each of them is merged (/users/u-1/orders and /users/u-2/orders:
 *   /users/{id}/orders); the other values there stay literal.
 * A value becomes a variable only if the policy's pattern for that variable matches it, so the
 * learned template always matches the call it came from.
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
  const out: string[][] = paths.map(() => []);
  const variables: VariablePosition[] = [];
  const literals: VariablePosition[] = [];
  // Depth first with a stack of its own, not recursion: a logged path may have thousands of
  // segments (max_path_segments raised; /a/a/a/... fits in max_path_bytes), deeper than the call stack.
  const work: [number[], number][] = [[paths.map((_, i) => i), 0]];
  while (work.length > 0) {
    const [indexes, depth] = work.pop()!;
    walk(indexes, depth);
  }
  return { templates: out.map((segments) => `/${segments.join('/')}`), variables, literals };

  /** Assigns the template segment at `depth` to each of `indexes` (paths sharing one template prefix), then queues each group for the next depth. */
  function walk(indexes: number[], depth: number): void {
    const here = indexes.filter((i) => paths[i]!.length > depth);
    if (here.length === 0) return;
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
    const prefix = () => `/${out[here[0]!]!.join('/')}`.replace(/^\/$/, '');
    if (!collapse && idLike.length >= 3) {
      literals.push({ prefix: prefix(), distinct: idLike.length, examples: idLike.slice(0, 3).map(([value]) => value) });
    }
    // Id-like values the generic pattern refuses ("report 12.pdf"): literal whatever --min-distinct says.
    const unmatched = [...untyped.entries()].filter(([value, n]) => !GENERIC.test(value) && (n <= 2 || /[0-9]/.test(value)));
    if (unmatched.length >= 3) {
      literals.push({ prefix: prefix(), distinct: unmatched.length, examples: unmatched.slice(0, 3).map(([value]) => value), unmatched: true });
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
        literals.push({ prefix: prefix(), distinct: 1, examples: [only![0]], constant: true, calls: only![1] });
      }
    }

    const groups = new Map<string, number[]>();
    for (const i of here) {
      const segment = paths[i]![depth]!;
      const template = idValues.has(segment) ? '{id}' : constants.has(segment) ? segment : (typedVariable(segment) ?? segment);
      out[i]!.push(template);
      const group = groups.get(template);
      if (group) group.push(i);
      else groups.set(template, [i]);
    }
    const next: [number[], number][] = [];
    for (const [template, group] of groups) {
      if (template.startsWith('{')) {
        const values = new Set(group.map((i) => paths[i]![depth]!));
        variables.push({ prefix: `/${out[group[0]!]!.join('/')}`, distinct: values.size, examples: [...values].slice(0, 3) });
      }
      next.push([group, depth + 1]);
    }
    // Reversed onto the stack, so the groups are walked in order, each to its end, as recursion would.
    for (let i = next.length - 1; i >= 0; i--) work.push(next[i]!);
  }
}
