/**
 * `gatehouse learn`'s core: decision-log events in, learned edges, policy data and the facts the
 * review needs out. No I/O: the command feeds it lines and prints what it returns.
 *
 * What is learned from: calls that went through. A call the serving policy allowed, and, under
 * dry_run, a call the policy denied that dry-run let through (`gatehouse.enforced: "allow"`):
 * it reached the service, so it is traffic the mesh has; the review lists it as "denied by the
 * current policy". Denials that were enforced, and requests refused before the policy (request
 * hygiene, parse errors, identity checks), are never learned. Nor are callers that look like
 * probes (learn/probes.ts) unless `includeProbes`, nor calls with masked fields.
 */
import type { LoggedDecision } from '../commands/decision-log-lines.js';
import { earliest, latest, learnEdges, type Edge, type LearnedEdges, type ObservedCalls } from './edges.js';
import { observe, type NotLearned } from './observation.js';
import { policyData, type LearnedData } from './policy-data.js';
import { ProbeFinder, type Probe } from './probes.js';

export interface LearnOptions {
  /** Distinct values at one path position before they become a variable; default 10. */
  minDistinct: number;
  /** Edges seen fewer times are left out of the data (still listed); default 1. */
  minCount: number;
  /** Distinct first path segments that, mostly denied, mark a crawling caller; default 10. */
  probeTopLevel: number;
  /** Learn from callers that look like probes too. */
  includeProbes: boolean;
}

export const DEFAULT_LEARN_OPTIONS: LearnOptions = { minDistinct: 10, minCount: 1, probeTopLevel: 10, includeProbes: false };

export interface LearnResult extends LearnedEdges {
  data: LearnedData;
  /** Edges below minCount, left out of `data`. */
  leftOut: Edge[];
  probes: Probe[];
  /** Whether the probes were learned from (includeProbes). */
  probesLearned: boolean;
  lines: number;
  /** Lines that were not decision-log events with an input (blank lines not counted), and the first few of them. */
  notDecisions: number;
  notDecisionExamples: string[];
  learnedCalls: number;
  /** Calls not learned, by why (probes: calls of callers that look like probes). */
  notLearned: Record<NotLearned | 'probe', number>;
  /** Refused calls by reason_code. */
  refusedCodes: Record<string, number>;
  /** Calls set aside as masked, by masked field ("the :path header": names, never values); a call counts under each of its masked fields. */
  maskedFields: Record<string, number>;
  /** Enforced denials, per caller → destination, for the review. */
  denied: { caller: string; destination: string; count: number }[];
  dryRun: boolean;
  /** decision_log_allow_sample_percent values the lines carry (gatehouse.allow_sample_percent; empty: not sampled, or an older log). */
  samplePercents: number[];
  firstSeen: number | undefined;
  lastSeen: number | undefined;
}

/** The calls of one (caller, destination, method), per path (JSON of its segments). */
interface CallsOfEdge {
  caller: string;
  destination: string;
  destinationName: string;
  method: string;
  paths: Map<string, { count: number; policyDenied: number; firstSeen: number | undefined; lastSeen: number | undefined }>;
}

export class Learner {
  readonly #options: LearnOptions;
  /**
   * Identical calls counted together, per (caller, destination, method) and then per path (its
   * segments as JSON): the long principals are held once per edge, not once per distinct path, and
   * segment arrays are made again only in finish(), one destination at a time. About 250 bytes per
   * distinct path, against ~1.6 KB when every distinct call was one object with its own key.
   */
  readonly #calls = new Map<string, CallsOfEdge>();
  readonly #probes = new ProbeFinder();
  readonly #notLearned: Record<NotLearned, number> = { denied: 0, refused: 0, masked: 0, no_caller: 0, no_destination: 0, unusable_path: 0 };
  readonly #refusedCodes: Record<string, number> = {};
  readonly #maskedFields: Record<string, number> = {};
  readonly #denied = new Map<string, { caller: string; destination: string; count: number }>();
  readonly #samplePercents = new Set<number>();
  #lines = 0;
  #notDecisions = 0;
  readonly #notDecisionExamples: string[] = [];
  #dryRun = false;
  #firstSeen: number | undefined;
  #lastSeen: number | undefined;

  constructor(options: Partial<LearnOptions> = {}) {
    this.#options = { ...DEFAULT_LEARN_OPTIONS, ...options };
  }

  /**
   * One line: its event (undefined when it is not one), where it came from (for the review), and
   * for a decision line without an input (refused before the input was built) its gatehouse section.
   */
  add(event: LoggedDecision | undefined, where: string, blank: boolean, withoutInput?: LoggedDecision['gatehouse']): void {
    if (blank) return;
    this.#lines++;
    const g = event?.gatehouse ?? withoutInput;
    if (g?.dry_run === true) this.#dryRun = true;
    if (typeof g?.allow_sample_percent === 'number' && this.#samplePercents.size < 10) this.#samplePercents.add(g.allow_sample_percent);
    if (!event && withoutInput) {
      this.#notLearned.refused++;
      const code = typeof withoutInput.reason_code === 'string' ? withoutInput.reason_code : 'unknown';
      this.#refusedCodes[code] = (this.#refusedCodes[code] ?? 0) + 1;
      return;
    }
    if (!event) {
      this.#notDecisions++;
      if (this.#notDecisionExamples.length < 3) this.#notDecisionExamples.push(where);
      return;
    }
    const result = observe(event);
    const o = result.observation;
    if (result.notLearned) {
      this.#notLearned[result.notLearned]++;
      for (const field of result.maskedFields ?? []) this.#maskedFields[field] = (this.#maskedFields[field] ?? 0) + 1;
      if (result.notLearned === 'refused') {
        const code = o?.reasonCode || 'unknown';
        this.#refusedCodes[code] = (this.#refusedCodes[code] ?? 0) + 1;
      }
      if (result.notLearned === 'denied' && o) {
        const key = `${o.caller} ${o.destination}`;
        const entry = this.#denied.get(key);
        if (entry) entry.count++;
        else this.#denied.set(key, { caller: o.caller, destination: o.destination, count: 1 });
      }
    }
    if (result.caller !== undefined) {
      this.#probes.add({
        caller: result.caller,
        segments: o?.segments,
        allowed: o?.policyAllowed ?? false,
        refused: result.notLearned === 'refused' || result.notLearned === 'unusable_path',
      });
    }
    if (!o || result.notLearned) return;
    this.#firstSeen = earliest(this.#firstSeen, o.time);
    this.#lastSeen = latest(this.#lastSeen, o.time);
    const edgeKey = JSON.stringify([o.caller, o.destination, o.method]);
    let edge = this.#calls.get(edgeKey);
    if (!edge) {
      edge = { caller: o.caller, destination: o.destination, destinationName: o.destinationName, method: o.method, paths: new Map() };
      this.#calls.set(edgeKey, edge);
    }
    const pathKey = JSON.stringify(o.segments);
    const calls = edge.paths.get(pathKey);
    if (calls) {
      calls.count++;
      if (!o.policyAllowed) calls.policyDenied++;
      calls.firstSeen = earliest(calls.firstSeen, o.time);
      calls.lastSeen = latest(calls.lastSeen, o.time);
    } else {
      edge.paths.set(pathKey, { count: 1, policyDenied: o.policyAllowed ? 0 : 1, firstSeen: o.time, lastSeen: o.time });
    }
  }

  /** The kept calls, one destination's list at a time (their segment arrays made here, not held while reading). */
  *#callsByDestination(kept: readonly CallsOfEdge[]): Generator<ObservedCalls[]> {
    const byDestination = new Map<string, CallsOfEdge[]>();
    for (const edge of kept) {
      const list = byDestination.get(edge.destination);
      if (list) list.push(edge);
      else byDestination.set(edge.destination, [edge]);
    }
    for (const edges of byDestination.values()) {
      const list: ObservedCalls[] = [];
      for (const edge of edges) {
        for (const [pathKey, stats] of edge.paths) {
          list.push({ caller: edge.caller, destination: edge.destination, destinationName: edge.destinationName, method: edge.method, segments: JSON.parse(pathKey) as string[], ...stats });
        }
      }
      yield list;
    }
  }

  finish(): LearnResult {
    const probes = this.#probes.probes({ minTopLevel: this.#options.probeTopLevel });
    const probeCallers = new Set(this.#options.includeProbes ? [] : probes.map((p) => p.caller));
    let probeCalls = 0;
    let learnedCalls = 0;
    const kept: CallsOfEdge[] = [];
    for (const edge of this.#calls.values()) {
      let count = 0;
      for (const stats of edge.paths.values()) count += stats.count;
      if (probeCallers.has(edge.caller)) probeCalls += count;
      else {
        kept.push(edge);
        learnedCalls += count;
      }
    }
    const learned = learnEdges(this.#callsByDestination(kept), { minDistinct: this.#options.minDistinct });
    const edges = learned.edges.filter((e) => e.count >= this.#options.minCount);
    const leftOut = learned.edges.filter((e) => e.count < this.#options.minCount);
    return {
      ...learned,
      edges,
      data: policyData(edges),
      leftOut,
      probes,
      probesLearned: this.#options.includeProbes,
      lines: this.#lines,
      notDecisions: this.#notDecisions,
      notDecisionExamples: this.#notDecisionExamples,
      learnedCalls,
      notLearned: { ...this.#notLearned, probe: probeCalls },
      refusedCodes: this.#refusedCodes,
      maskedFields: this.#maskedFields,
      denied: [...this.#denied.values()].sort((a, b) => b.count - a.count || (a.caller < b.caller ? -1 : 1)),
      dryRun: this.#dryRun,
      samplePercents: [...this.#samplePercents].sort((a, b) => a - b),
      firstSeen: this.#firstSeen,
      lastSeen: this.#lastSeen,
    };
  }
}
