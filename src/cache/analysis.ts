/**
 * Which parts of the input a policy reads, derived from OPA's parsed AST (`opa parse --format
 * json`) when the bundle is built. The decision cache keys on exactly these fields, so two Checks
 * that agree on them get the same answer from the policy.
 *
 * Rules (docs/decision-cache.md):
 * - every reference rooted at `input` contributes its longest prefix of constant string keys;
 *   a dynamic or numeric segment (`headers[k]`, `parsed_path[0]`) widens to the enclosing object;
 * - `input` used whole (passed to a function, `with input as`, `walk(input)`) makes the policy
 *   uncacheable: the key would be the whole request, including per-request ids;
 * - a call to a non-deterministic builtin (time, randomness, network, runtime: flagged in the
 *   builtin catalogue) makes the policy uncacheable unless the operator sets a TTL for such policies.
 */
import { isNondeterministicBuiltin } from '../policy/builtins/catalogue.js';

export const ANALYSIS_VERSION = 1;

export interface CacheAnalysis {
  version: number;
  /** Input paths the policy reads, minimal (no path is a prefix of another), sorted. */
  fields: string[][];
  /** Why the decision cannot be keyed on fields (the policy reads the whole input), if so. */
  uncacheable?: string;
  /** Non-deterministic builtins the policy calls. */
  nondeterministic: string[];
}

interface Term {
  type?: unknown;
  value?: unknown;
}

/** Analyse the parsed modules of one policy (JSON ASTs from `opa parse --format json`). */
export function analyseModules(modules: unknown[]): CacheAnalysis {
  const fields: string[][] = [];
  const calls = new Set<string>();
  let wholeInput: string | undefined;

  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const term = node as Term;
    if (term.type === 'ref' && Array.isArray(term.value)) {
      const segments = term.value as Term[];
      const head = segments[0];
      if (head?.type === 'var' && head.value === 'input') {
        const path: string[] = [];
        for (const segment of segments.slice(1)) {
          if (segment.type !== 'string') break;
          path.push(String(segment.value));
        }
        if (path.length === 0) wholeInput ??= 'the policy reads input as a whole';
        else fields.push(path);
      } else if (head?.type === 'var' && typeof head.value === 'string') {
        const name = [head.value, ...segments.slice(1).filter((s) => s.type === 'string').map((s) => String(s.value))].join('.');
        calls.add(name);
      }
      // A head that is not a variable is a call or a composite (`split(input.x, "/")[0]`), and
      // dynamic segments can hold references too: both may read input.
      if (head?.type !== 'var') visit(head);
      for (const segment of segments.slice(1)) visit(segment);
      return;
    }
    if (term.type === 'var' && term.value === 'input') {
      wholeInput ??= 'the policy uses input as a whole (e.g. passes it to a function or replaces it with "with")';
      return;
    }
    for (const value of Object.values(node)) visit(value);
  };
  for (const module of modules) visit(module);

  const nondeterministic = [...calls].filter(isNondeterministicBuiltin).sort();
  const analysis: CacheAnalysis = { version: ANALYSIS_VERSION, fields: minimalPaths(fields), nondeterministic };
  if (wholeInput) analysis.uncacheable = wholeInput;
  return analysis;
}

/** Drop duplicates and paths covered by a shorter prefix; sort for a stable key layout. */
export function minimalPaths(paths: string[][]): string[][] {
  const sorted = [...paths].sort((a, b) => a.length - b.length);
  const kept: string[][] = [];
  for (const path of sorted) {
    if (!kept.some((k) => k.length <= path.length && k.every((s, i) => s === path[i]))) kept.push(path);
  }
  return kept.sort((a, b) => (a.join('\u0000') < b.join('\u0000') ? -1 : 1));
}
