/**
 * Observed calls → edges: caller SPIFFE ID → destination SPIFFE ID → method → path template, each
 * with how often and when it was seen, and how often the policy that served denied it (dry-run).
 */
import { templatePaths, type TemplateOptions, type VariablePosition } from './path-template.js';

export interface Edge {
  caller: string;
  destination: string;
  destinationName: string;
  method: string;
  /** e.g. /api/v1/orders/{int} */
  path: string;
  count: number;
  /** How many of them the serving policy denied (they happened because of dry-run). */
  policyDenied: number;
  /** Milliseconds since the epoch; undefined when no line had a timestamp. */
  firstSeen: number | undefined;
  lastSeen: number | undefined;
}

/** Identical calls (caller, destination, method, parsed path) counted together. */
export interface ObservedCalls {
  caller: string;
  destination: string;
  destinationName: string;
  method: string;
  segments: string[];
  count: number;
  policyDenied: number;
  firstSeen: number | undefined;
  lastSeen: number | undefined;
}

export interface LearnedEdges {
  /** Sorted by destination, caller, path, method. */
  edges: Edge[];
  /** Positions turned into variables, per destination. */
  variables: { destination: string; destinationName: string; position: VariablePosition }[];
  /** Positions where several id-like values stayed literal, per destination. */
  literals: { destination: string; destinationName: string; position: VariablePosition }[];
}

/**
 * Templates the paths per destination, then counts each (caller, destination, method, template).
 * `byDestination`: the calls, one destination per list (Learner makes each list only when it is
 * templated, so one destination's segment arrays are in memory at a time).
 */
export function learnEdges(byDestination: Iterable<readonly ObservedCalls[]>, options: TemplateOptions): LearnedEdges {
  const edges = new Map<string, Edge>();
  const variables: LearnedEdges['variables'] = [];
  const literals: LearnedEdges['literals'] = [];
  for (const list of byDestination) {
    if (list.length === 0) continue;
    const destination = list[0]!.destination;
    const { templates, variables: positions, literals: literalPositions } = templatePaths(
      list.map((o) => o.segments),
      options,
      list.map((o) => o.count),
    );
    for (const position of positions) variables.push({ destination, destinationName: list[0]!.destinationName, position });
    for (const position of literalPositions) literals.push({ destination, destinationName: list[0]!.destinationName, position });
    list.forEach((o, i) => {
      const path = templates[i]!;
      const key = JSON.stringify([o.caller, destination, o.method, path]);
      let edge = edges.get(key);
      if (!edge) {
        edge = { caller: o.caller, destination, destinationName: o.destinationName, method: o.method, path, count: 0, policyDenied: 0, firstSeen: undefined, lastSeen: undefined };
        edges.set(key, edge);
      }
      edge.count += o.count;
      edge.policyDenied += o.policyDenied;
      edge.firstSeen = earliest(edge.firstSeen, o.firstSeen);
      edge.lastSeen = latest(edge.lastSeen, o.lastSeen);
    });
  }
  const order = (e: Edge) => [e.destination, e.caller, e.path, e.method];
  return {
    edges: [...edges.values()].sort((a, b) => compareTuples(order(a), order(b))),
    variables: variables.sort((a, b) => compareTuples([a.destination, a.position.prefix], [b.destination, b.position.prefix])),
    literals: literals.sort((a, b) => compareTuples([a.destination, a.position.prefix], [b.destination, b.position.prefix])),
  };
}

function compareTuples(a: string[], b: string[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i]! < b[i]!) return -1;
    if (a[i]! > b[i]!) return 1;
  }
  return 0;
}

export function earliest(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

export function latest(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.max(a, b);
}
