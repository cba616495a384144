/**
 * Host builtin: graph.reachable_paths (topdown/reachable.go). Every path from the initial nodes,
 * following edges until a node without edges, a node outside the graph (not included), or a node
 * already on the path (a cycle: the path stops before it). graph.reachable is compiled into
 * policy.wasm.
 */
import { collectionArg, objectArg } from './args.js';
import type { BuiltinFamily, RegoValue } from './types.js';
import { objectGet, ValueSet, valueKey } from './value-order.js';

/** Guard against graphs whose path count explodes (it grows exponentially with diamonds). */
const MAX_PATHS = 10_000;

function neighbours(edges: RegoValue): RegoValue[] {
  if (Array.isArray(edges)) return edges;
  if (edges instanceof Set) return [...edges];
  return [];
}

function reachablePaths(graph: RegoValue, initial: RegoValue[]): Set<RegoValue> {
  const result = new ValueSet();
  const add = (path: RegoValue[]) => {
    result.add(path);
    if (result.size > MAX_PATHS) throw new Error(`graph.reachable_paths: more than ${MAX_PATHS} paths`);
  };
  const walk = (root: RegoValue, path: RegoValue[], reached: Set<string>): void => {
    const edges = objectGet(graph, root);
    if (edges === undefined) return add(path);
    const here = [...path, root];
    const next = neighbours(edges);
    if (next.length === 0) return add(here);
    const seen = new Set(reached).add(valueKey(root));
    for (const neighbour of next) {
      if (seen.has(valueKey(neighbour))) add(here);
      else walk(neighbour, here, seen);
    }
  };
  for (const node of initial) {
    const edges = objectGet(graph, node);
    if (edges === undefined) continue;
    const next = neighbours(edges);
    if (next.length === 0) add([node]);
    for (const neighbour of next) walk(neighbour, [node], new Set([valueKey(node)]));
  }
  return result.toSet();
}

export const graphBuiltins: BuiltinFamily = {
  'graph.reachable_paths': {
    fn: (_ctx, graph, initial) => {
      // any object, string keys or not (objectArg only takes string keys)
      if (!(graph instanceof Map)) objectArg('graph.reachable_paths', 1, graph);
      return reachablePaths(graph!, collectionArg('graph.reachable_paths', 2, initial));
    },
    note: `More than ${MAX_PATHS} paths is an error in gatehouse.`,
  },
};
