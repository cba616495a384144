/**
 * Learned edges → data for the example allow-list policy (policies/authz.rego), in the shape of
 * policies/data.json: data.mesh.services[destination SPIFFE ID] = {name, allow: [rule...]}.
 *
 * One rule per caller and set of methods, listing the path templates called with exactly those
 * methods as `exact_paths` (whole paths, never prefixes): the policy allows any listed method with
 * any listed path, so grouping by method set allows nothing that was not seen. Each rule carries a
 * `learned` record (counts, first/last seen) for review; the policy does not read it.
 */
import { earliest, latest, type Edge } from './edges.js';

export interface LearnedRule {
  name: string;
  callers: [string];
  methods: string[];
  exact_paths: string[];
  learned: {
    calls: number;
    /** Calls the serving policy denied (dry-run let them through). */
    policy_denied: number;
    first_seen?: string;
    last_seen?: string;
    /** Per "METHOD /path/template": calls. */
    edges: Record<string, number>;
  };
}

export interface LearnedData {
  mesh: { services: Record<string, { name: string; allow: LearnedRule[] }> };
}

/** The data document for `edges` (sorted as learnEdges sorts them). */
export function policyData(edges: readonly Edge[]): LearnedData {
  // destination → caller → path → edges of that path
  const tree = new Map<string, { name: string; callers: Map<string, Map<string, Edge[]>> }>();
  for (const edge of edges) {
    let service = tree.get(edge.destination);
    if (!service) tree.set(edge.destination, (service = { name: edge.destinationName, callers: new Map() }));
    let paths = service.callers.get(edge.caller);
    if (!paths) service.callers.set(edge.caller, (paths = new Map()));
    const list = paths.get(edge.path);
    if (list) list.push(edge);
    else paths.set(edge.path, [edge]);
  }
  const services: LearnedData['mesh']['services'] = {};
  for (const [destination, service] of tree) {
    const allow: LearnedRule[] = [];
    for (const [caller, paths] of service.callers) {
      // method set → the paths called with exactly those methods
      const byMethods = new Map<string, Edge[][]>();
      for (const pathEdges of paths.values()) {
        const methods = [...new Set(pathEdges.map((e) => e.method))].sort().join(',');
        const group = byMethods.get(methods);
        if (group) group.push(pathEdges);
        else byMethods.set(methods, [pathEdges]);
      }
      for (const [methods, groups] of [...byMethods.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
        const all = groups.flat();
        // A loop, not Math.min(...times): a rule may hold hundreds of thousands of paths (too many arguments for a call).
        let first: number | undefined;
        let last: number | undefined;
        for (const e of all) {
          first = earliest(first, e.firstSeen);
          last = latest(last, e.lastSeen);
        }
        allow.push({
          name: `learned ${callerName(caller)} ${methods}`,
          callers: [caller],
          methods: methods.split(','),
          exact_paths: groups.map((g) => g[0]!.path).sort(),
          learned: {
            calls: all.reduce((n, e) => n + e.count, 0),
            policy_denied: all.reduce((n, e) => n + e.policyDenied, 0),
            ...(first !== undefined && last !== undefined ? { first_seen: new Date(first).toISOString(), last_seen: new Date(last).toISOString() } : {}),
            edges: Object.fromEntries(all.map((e) => [`${e.method} ${e.path}`, e.count])),
          },
        });
      }
    }
    services[destination] = { name: service.name, allow };
  }
  return { mesh: { services } };
}

/** The caller's SPIFFE ID without the scheme: mesh.local/ns/shop/sa/checkout. */
function callerName(caller: string): string {
  return caller.replace(/^spiffe:\/\//, '');
}
