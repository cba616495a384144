/**
 * The live authorization map's aggregation (admin_ui, docs/learn.md#the-live-authorization-map):
 * who called whom over the last few minutes, allowed or denied, the top denial reasons, the
 * decision latency and the decision cache's hit rate. Bounded whatever the traffic: counts live in
 * BUCKETS time buckets of BUCKET_SECONDS each; a bucket holds at most MAX_EDGES caller →
 * destination pairs and MAX_DENIALS denial keys, and what does not fit is counted under OTHER.
 * A Check costs a few Map lookups and increments; nothing is kept per request but the last
 * decision id of each denial key.
 *
 * What it shows is what the decision log shows after masking: the caller's principal (the decision
 * log's gatehouse.source_principal), the destination's principal, the reason code and reason, the
 * decision id. A decision_log_mask pointer that covers one of those (e.g. /gatehouse/reason, or
 * /input, which covers the principals, or /gatehouse, which covers the reason code) masks it here
 * too. The outcome, cache outcome and duration are counted whatever the mask (/metrics has them). No header, path, body or query value is
 * read at all.
 *
 * With workers > 1 each worker keeps its own summary; the primary asks each for `window()` while a
 * page is connected and merges them with `mergeWindows` (src/cluster/primary.ts).
 */
import type { Outcome } from '../../authz/outcome.js';
import { MASKED, parsePointer } from '../decision-log.js';

export const BUCKET_SECONDS = 10;
export const BUCKETS = 30;
/** The window the map covers: 5 minutes. */
export const WINDOW_SECONDS = BUCKET_SECONDS * BUCKETS;
/** Rates on the page are over the last minute. */
export const RATE_SECONDS = 60;
export const MAX_EDGES = 200;
export const MAX_DENIALS = 50;
/** The caller or destination that stands for everything past MAX_EDGES (or MAX_DENIALS). */
export const OTHER = '(other)';
/** A Check with no source principal (no mTLS, or Envoy sent none). */
export const NO_IDENTITY = '(no identity)';
/** Longest reason kept, in characters; longer ones are cut with "…". */
const MAX_REASON_CHARS = 200;
/** Longest principal kept (a SPIFFE ID may be 2048 bytes; a subject DN longer still), cut the same way. */
const MAX_PRINCIPAL_CHARS = 256;
/**
 * Upper bounds of the decision-latency histogram, in microseconds (the last bin is "above the last
 * bound"); the same sub-millisecond emphasis as gatehouse_check_duration_seconds.
 */
export const LATENCY_BOUNDS_US: readonly number[] = [25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 25_000, 100_000];

/** One caller → destination pair over the window: decisions, and those in the last RATE_SECONDS. */
export interface LiveEdge {
  source: string;
  destination: string;
  allow: number;
  deny: number;
  allow_recent: number;
  deny_recent: number;
}

/** Denials of one caller → destination pair for one reason, with the last such decision's id. */
export interface LiveDenial {
  source: string;
  destination: string;
  reason_code: string;
  reason: string;
  count: number;
  example_decision_id: string;
  /** Unix milliseconds of the last one. */
  last_seen_ms: number;
}

/** A summary over the window: what a worker sends the primary, what the page receives. */
export interface LiveWindow {
  window_seconds: number;
  /**
   * Seconds the *_recent counts cover: the last RATE_SECONDS / BUCKET_SECONDS buckets, the current
   * one only as far as it has run, so 50 to 60; a rate is a *_recent count divided by this.
   */
  rate_seconds: number;
  /** Unix milliseconds this window ends at. */
  now_ms: number;
  checks: { allow: number; deny: number; allow_recent: number; deny_recent: number };
  edges: LiveEdge[];
  denials: LiveDenial[];
  latency: { bounds_us: readonly number[]; counts: number[] };
  cache: { hit: number; miss: number; off: number };
  /** Decisions counted under OTHER because the edge or denial tables were full. */
  overflow: { edges: number; denials: number };
}

type Counts = [allow: number, deny: number];

interface Bucket {
  /** floor(unix seconds / BUCKET_SECONDS) this bucket counts; -1: empty. */
  epoch: number;
  edges: Map<string, Map<string, Counts>>;
  edgeCount: number;
  denials: Map<string, LiveDenial>;
  latency: number[];
  cache: { hit: number; miss: number; off: number };
  overflowEdges: number;
  overflowDenials: number;
}

/** Which of the fields the map shows a decision_log_mask pointer masks. */
export interface MaskedFields {
  source: boolean;
  destination: boolean;
  reason: boolean;
  reasonCode: boolean;
  decisionId: boolean;
}

/** Where each shown field sits in the decision-log event (and so which pointers mask it). */
const FIELD_PATHS: Record<keyof MaskedFields, string[]> = {
  source: ['/gatehouse/source_principal', '/input/identity/source/principal', '/input/attributes/source/principal', '/input/source_principal'],
  destination: ['/input/identity/destination/principal', '/input/attributes/destination/principal'],
  reason: ['/gatehouse/reason'],
  reasonCode: ['/gatehouse/reason_code'],
  decisionId: ['/decision_id'],
};

/** The shown fields that `pointers` (decision_log_mask) mask: a pointer masks everything below it. */
export function maskedFields(pointers: readonly string[]): MaskedFields {
  const parsed = pointers.map(parsePointer);
  const covers = (path: string) => {
    const field = parsePointer(path);
    return parsed.some((pointer) => pointer.length <= field.length && pointer.every((segment, i) => segment === '*' || segment === field[i]));
  };
  const masked = (key: keyof MaskedFields) => FIELD_PATHS[key].some(covers);
  return { source: masked('source'), destination: masked('destination'), reason: masked('reason'), reasonCode: masked('reasonCode'), decisionId: masked('decisionId') };
}

export class LiveSummary {
  readonly #buckets: Bucket[] = Array.from({ length: BUCKETS }, emptyBucket);
  readonly #masked: MaskedFields;
  readonly #nowMs: () => number;

  /** `maskPointers`: decision_log_mask. `nowMs`: the clock (unix milliseconds). */
  constructor(maskPointers: readonly string[], nowMs: () => number = Date.now) {
    this.#masked = maskedFields(maskPointers);
    this.#nowMs = nowMs;
  }

  /** Counts one Check. Never throws for any Outcome. */
  record(outcome: Outcome): void {
    const bucket = this.#bucket(Math.floor(this.#nowMs() / 1000 / BUCKET_SECONDS));
    const identity = outcome.input?.identity;
    const source = this.#masked.source ? MASKED : cut(identity?.source.principal ?? NO_IDENTITY, MAX_PRINCIPAL_CHARS);
    const destination = this.#masked.destination ? MASKED : cut(identity?.destination.principal ?? NO_IDENTITY, MAX_PRINCIPAL_CHARS);
    let targets = bucket.edges.get(source);
    let counts = targets?.get(destination);
    if (counts === undefined) {
      if (bucket.edgeCount < MAX_EDGES) {
        if (!targets) bucket.edges.set(source, (targets = new Map()));
        targets.set(destination, (counts = [0, 0]));
        bucket.edgeCount++;
      } else {
        bucket.overflowEdges++;
        counts = otherEdge(bucket);
      }
    }
    counts[outcome.allowed ? 0 : 1]++;
    const us = outcome.timings.totalNs / 1000;
    let bin = 0;
    while (bin < LATENCY_BOUNDS_US.length && us > LATENCY_BOUNDS_US[bin]!) bin++;
    bucket.latency[bin]!++;
    bucket.cache[outcome.cache]++;
    if (!outcome.allowed) this.#recordDenial(bucket, outcome, source, destination);
  }

  #recordDenial(bucket: Bucket, outcome: Outcome, source: string, destination: string): void {
    const reason = this.#masked.reason ? MASKED : cut(outcome.reason, MAX_REASON_CHARS);
    const decisionId = this.#masked.decisionId ? MASKED : outcome.decisionId;
    const reasonCode = this.#masked.reasonCode ? MASKED : outcome.reasonLabel;
    let key = `${source}\n${destination}\n${reasonCode}\n${reason}`;
    let denial = bucket.denials.get(key);
    if (denial === undefined && bucket.denials.size >= MAX_DENIALS) {
      bucket.overflowDenials++;
      key = OTHER;
      denial = bucket.denials.get(key);
      if (denial === undefined) {
        bucket.denials.set(key, (denial = { source: OTHER, destination: OTHER, reason_code: OTHER, reason: 'denials past the table\'s limit', count: 0, example_decision_id: decisionId, last_seen_ms: 0 }));
      }
    }
    if (denial === undefined) {
      bucket.denials.set(key, (denial = { source, destination, reason_code: reasonCode, reason, count: 0, example_decision_id: decisionId, last_seen_ms: 0 }));
    }
    denial.count++;
    denial.example_decision_id = decisionId;
    denial.last_seen_ms = this.#nowMs();
  }

  /** The bucket for `epoch`, reusing (and clearing) the slot of one a window old. */
  #bucket(epoch: number): Bucket {
    const slot = ((epoch % BUCKETS) + BUCKETS) % BUCKETS;
    let bucket = this.#buckets[slot]!;
    if (bucket.epoch !== epoch) {
      bucket = emptyBucket();
      bucket.epoch = epoch;
      this.#buckets[slot] = bucket;
    }
    return bucket;
  }

  /** The summary of the last WINDOW_SECONDS (a plain JSON-serialisable object, tables capped). */
  window(): LiveWindow {
    const nowMs = this.#nowMs();
    const current = Math.floor(nowMs / 1000 / BUCKET_SECONDS);
    const recentFrom = current - RATE_SECONDS / BUCKET_SECONDS + 1;
    const result = emptyWindow(nowMs);
    const edges = new Map<string, LiveEdge>();
    const denials = new Map<string, LiveDenial>();
    for (const bucket of this.#buckets) {
      if (bucket.epoch < 0 || bucket.epoch > current || bucket.epoch <= current - BUCKETS) continue;
      const recent = bucket.epoch >= recentFrom;
      for (const [source, targets] of bucket.edges) {
        for (const [destination, [allow, deny]] of targets) {
          addEdge(edges, { source, destination, allow, deny, allow_recent: recent ? allow : 0, deny_recent: recent ? deny : 0 });
        }
      }
      for (const [key, denial] of bucket.denials) addDenial(denials, key, denial);
      bucket.latency.forEach((count, bin) => (result.latency.counts[bin]! += count));
      result.cache.hit += bucket.cache.hit;
      result.cache.miss += bucket.cache.miss;
      result.cache.off += bucket.cache.off;
      result.overflow.edges += bucket.overflowEdges;
      result.overflow.denials += bucket.overflowDenials;
    }
    return finish(result, edges, denials);
  }
}

/** Several workers' windows as one (sums; each denial keeps the latest example). */
export function mergeWindows(windows: readonly LiveWindow[], nowMs: number): LiveWindow {
  const result = emptyWindow(nowMs);
  const edges = new Map<string, LiveEdge>();
  const denials = new Map<string, LiveDenial>();
  for (const window of windows) {
    for (const edge of window.edges) addEdge(edges, edge);
    for (const denial of window.denials) addDenial(denials, `${denial.source}\n${denial.destination}\n${denial.reason_code}\n${denial.reason}`, denial);
    window.latency.counts.forEach((count, bin) => {
      if (bin < result.latency.counts.length) result.latency.counts[bin]! += count;
    });
    result.cache.hit += window.cache.hit;
    result.cache.miss += window.cache.miss;
    result.cache.off += window.cache.off;
    result.overflow.edges += window.overflow.edges;
    result.overflow.denials += window.overflow.denials;
  }
  return finish(result, edges, denials);
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** What `rate_seconds` is at `nowMs` (unix milliseconds). */
function rateSecondsAt(nowMs: number): number {
  const current = Math.floor(nowMs / 1000 / BUCKET_SECONDS);
  return nowMs / 1000 - (current - RATE_SECONDS / BUCKET_SECONDS + 1) * BUCKET_SECONDS;
}

function emptyBucket(): Bucket {
  return { epoch: -1, edges: new Map(), edgeCount: 0, denials: new Map(), latency: new Array<number>(LATENCY_BOUNDS_US.length + 1).fill(0), cache: { hit: 0, miss: 0, off: 0 }, overflowEdges: 0, overflowDenials: 0 };
}

function emptyWindow(nowMs: number): LiveWindow {
  return {
    window_seconds: WINDOW_SECONDS,
    rate_seconds: rateSecondsAt(nowMs),
    now_ms: nowMs,
    checks: { allow: 0, deny: 0, allow_recent: 0, deny_recent: 0 },
    edges: [],
    denials: [],
    latency: { bounds_us: LATENCY_BOUNDS_US, counts: new Array<number>(LATENCY_BOUNDS_US.length + 1).fill(0) },
    cache: { hit: 0, miss: 0, off: 0 },
    overflow: { edges: 0, denials: 0 },
  };
}

/** The OTHER → OTHER counts of a full bucket. */
function otherEdge(bucket: Bucket): Counts {
  let targets = bucket.edges.get(OTHER);
  if (!targets) bucket.edges.set(OTHER, (targets = new Map()));
  let counts = targets.get(OTHER);
  if (!counts) targets.set(OTHER, (counts = [0, 0]));
  return counts;
}

function addEdge(edges: Map<string, LiveEdge>, edge: LiveEdge): void {
  const key = `${edge.source}\n${edge.destination}`;
  const sum = edges.get(key);
  if (!sum) {
    edges.set(key, { ...edge });
    return;
  }
  sum.allow += edge.allow;
  sum.deny += edge.deny;
  sum.allow_recent += edge.allow_recent;
  sum.deny_recent += edge.deny_recent;
}

function addDenial(denials: Map<string, LiveDenial>, key: string, denial: LiveDenial): void {
  const sum = denials.get(key);
  if (!sum) {
    denials.set(key, { ...denial });
    return;
  }
  sum.count += denial.count;
  if (denial.last_seen_ms >= sum.last_seen_ms) {
    sum.last_seen_ms = denial.last_seen_ms;
    sum.example_decision_id = denial.example_decision_id;
  }
}

/**
 * Totals from the edges, then the tables capped: the busiest MAX_EDGES edges and the MAX_DENIALS
 * most frequent denials, the rest folded into one OTHER row each.
 */
function finish(result: LiveWindow, edges: Map<string, LiveEdge>, denials: Map<string, LiveDenial>): LiveWindow {
  for (const edge of edges.values()) {
    result.checks.allow += edge.allow;
    result.checks.deny += edge.deny;
    result.checks.allow_recent += edge.allow_recent;
    result.checks.deny_recent += edge.deny_recent;
  }
  // What was already counted as other (a full bucket, a worker's own overflow) stays last, with what is folded now.
  const otherKey = `${OTHER}\n${OTHER}`;
  const counted = edges.get(otherKey);
  edges.delete(otherKey);
  const byTraffic = [...edges.values()].sort((a, b) => b.allow + b.deny - (a.allow + a.deny) || a.source.localeCompare(b.source) || a.destination.localeCompare(b.destination));
  result.edges = byTraffic.slice(0, MAX_EDGES);
  const folded = byTraffic.slice(MAX_EDGES);
  if (counted || folded.length > 0) {
    const other: LiveEdge = counted ?? { source: OTHER, destination: OTHER, allow: 0, deny: 0, allow_recent: 0, deny_recent: 0 };
    for (const edge of folded) {
      other.allow += edge.allow;
      other.deny += edge.deny;
      other.allow_recent += edge.allow_recent;
      other.deny_recent += edge.deny_recent;
      result.overflow.edges += edge.allow + edge.deny;
    }
    result.edges.push(other);
  }
  const otherDenials = [...denials.entries()].find(([key, denial]) => key === OTHER || denial.reason_code === OTHER)?.[0];
  const countedDenials = otherDenials === undefined ? undefined : denials.get(otherDenials);
  if (otherDenials !== undefined) denials.delete(otherDenials);
  const byCount = [...denials.values()].sort((a, b) => b.count - a.count || b.last_seen_ms - a.last_seen_ms);
  result.denials = byCount.slice(0, MAX_DENIALS);
  const rest = byCount.slice(MAX_DENIALS);
  if (countedDenials || rest.length > 0) {
    const other: LiveDenial = countedDenials ?? { source: OTHER, destination: OTHER, reason_code: OTHER, reason: 'denials past the table\'s limit', count: 0, example_decision_id: rest[0]!.example_decision_id, last_seen_ms: 0 };
    for (const denial of rest) {
      other.count += denial.count;
      other.last_seen_ms = Math.max(other.last_seen_ms, denial.last_seen_ms);
      result.overflow.denials += denial.count;
    }
    result.denials.push(other);
  }
  return result;
}
