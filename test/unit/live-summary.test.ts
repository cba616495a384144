/**
 * The live map's summary (src/observability/live/live-summary.ts): counts per caller → destination
 * over a sliding window of time buckets, bounded tables with an "other" overflow, masking as
 * decision_log_mask masks, and merging workers' windows.
 */
import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../src/authz/outcome.js';
import { MASKED } from '../../src/observability/decision-log.js';
import { BUCKET_SECONDS, LATENCY_BOUNDS_US, LiveSummary, MAX_DENIALS, MAX_EDGES, NO_IDENTITY, OTHER, RATE_SECONDS, WINDOW_SECONDS, maskedFields, mergeWindows } from '../../src/observability/live/live-summary.js';

const A = 'spiffe://mesh.local/ns/a/sa/a';
const B = 'spiffe://mesh.local/ns/b/sa/b';

function outcome(source: string | null, destination: string | null, allowed: boolean, extra: Partial<Outcome> = {}): Outcome {
  const peer = (principal: string | null) => (principal === null ? { principal: null, valid: false, error: 'none' } : { principal, valid: true });
  return {
    decisionId: `id-${Math.random()}`,
    allowed,
    httpStatus: allowed ? 200 : 403,
    reasonLabel: allowed ? 'policy_allowed' : 'policy_denied',
    reason: allowed ? 'allowed' : `${source} may not call ${destination}`,
    cache: 'miss',
    timings: { inputNs: 1000, evalNs: 20_000, totalNs: 30_000 },
    input: { identity: { source: peer(source), destination: peer(destination) } } as unknown as Outcome['input'],
    ...extra,
  } as Outcome;
}

function clock(startMs = 1_800_000_000_000) {
  let now = startMs;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('LiveSummary', () => {
  it('counts allows and denies per edge, the last minute apart, and forgets what is older than the window', () => {
    const time = clock();
    const summary = new LiveSummary([], time.now);
    summary.record(outcome(A, B, true));
    time.advance(2 * 60_000); // out of the last minute, still in the window
    summary.record(outcome(A, B, true));
    const denied = outcome(A, B, false);
    summary.record(denied);
    let window = summary.window();
    expect(window.edges).toEqual([{ source: A, destination: B, allow: 2, deny: 1, allow_recent: 1, deny_recent: 1 }]);
    expect(window.checks).toEqual({ allow: 2, deny: 1, allow_recent: 1, deny_recent: 1 });
    expect(window.denials).toEqual([expect.objectContaining({ source: A, destination: B, reason_code: 'policy_denied', count: 1, example_decision_id: denied.decisionId })]);
    expect(window.cache).toEqual({ hit: 0, miss: 3, off: 0 });
    expect(window.latency.counts[LATENCY_BOUNDS_US.indexOf(50)]).toBe(3); // 30 µs: the ≤50 µs bin

    time.advance(WINDOW_SECONDS * 1000 - 60_000 + BUCKET_SECONDS * 1000);
    window = summary.window();
    expect(window.edges).toEqual([{ source: A, destination: B, allow: 1, deny: 1, allow_recent: 0, deny_recent: 0 }]);
    time.advance(WINDOW_SECONDS * 1000);
    expect(summary.window().edges).toEqual([]);
    expect(summary.window().latency.counts.every((c) => c === 0)).toBe(true);
  });

  it('gives the seconds the recent counts cover, so that rates are right early in a bucket', () => {
    // 1 s into a bucket: the recent counts cover the five buckets before it and that 1 s.
    const time = clock(Math.floor(Date.now() / 10_000) * 10_000 + 1000);
    const summary = new LiveSummary([], time.now);
    for (let i = 0; i < 51; i++) summary.record(outcome(A, B, true));
    const window = summary.window();
    expect(window.rate_seconds).toBeCloseTo(RATE_SECONDS - BUCKET_SECONDS + 1, 6);
    expect(window.checks.allow_recent / window.rate_seconds).toBeCloseTo(1, 6); // 51 Checks in 51 s
    time.advance(BUCKET_SECONDS * 1000 - 1000); // the next bucket starts: 50 s again
    expect(summary.window().rate_seconds).toBeCloseTo(RATE_SECONDS - BUCKET_SECONDS, 6);
    expect(mergeWindows([summary.window()], time.now()).rate_seconds).toBeCloseTo(RATE_SECONDS - BUCKET_SECONDS, 6);
  });

  it('keeps at most MAX_EDGES edges and MAX_DENIALS denial rows, the rest counted as other', () => {
    const summary = new LiveSummary([]);
    for (let i = 0; i < MAX_EDGES + 30; i++) summary.record(outcome(`spiffe://t/caller-${i}`, B, false));
    const window = summary.window();
    expect(window.edges).toHaveLength(MAX_EDGES + 1);
    expect(window.edges.at(-1)).toEqual({ source: OTHER, destination: OTHER, allow: 0, deny: 30, allow_recent: 0, deny_recent: 30 });
    expect(window.overflow.edges).toBe(30);
    expect(window.checks.deny).toBe(MAX_EDGES + 30);
    expect(window.denials).toHaveLength(MAX_DENIALS + 1);
    expect(window.denials.reduce((sum, d) => sum + d.count, 0)).toBe(MAX_EDGES + 30);
  });

  it('names Checks without identity, and masks what decision_log_mask masks', () => {
    const plain = new LiveSummary([]);
    plain.record(outcome(null, null, false));
    expect(plain.window().edges[0]).toMatchObject({ source: NO_IDENTITY, destination: NO_IDENTITY });

    const masked = new LiveSummary(['/gatehouse/source_principal', '/gatehouse/reason']);
    masked.record(outcome(A, B, false));
    const window = masked.window();
    expect(window.edges[0]).toMatchObject({ source: MASKED, destination: B });
    expect(window.denials[0]).toMatchObject({ source: MASKED, reason: MASKED });
    expect(JSON.stringify(window)).not.toContain(A);

    // The reason code too, as the decision log masks gatehouse.reason_code.
    const codes = new LiveSummary(['/gatehouse/reason_code']);
    codes.record(outcome(A, B, false));
    expect(codes.window().denials[0]).toMatchObject({ source: A, reason_code: MASKED });
    expect(JSON.stringify(codes.window())).not.toContain('policy_denied');
  });

  it('takes a pointer to mask everything below it, with "*" for any segment', () => {
    expect(maskedFields([])).toEqual({ source: false, destination: false, reason: false, reasonCode: false, decisionId: false });
    // The principal is also at /input/identity/source/principal: masked there, it is masked on the page too.
    expect(maskedFields(['/input'])).toMatchObject({ source: true, destination: true, reason: false });
    expect(maskedFields(['/input/identity/*/principal', '/gatehouse/source_principal'])).toMatchObject({ source: true, destination: true, reason: false });
    expect(maskedFields(['/gatehouse'])).toMatchObject({ source: true, reason: true, reasonCode: true, destination: false });
    expect(maskedFields(['/input/parsed_body/password'])).toEqual({ source: false, destination: false, reason: false, reasonCode: false, decisionId: false });
  });

  it('cuts long reasons and principals', () => {
    const summary = new LiveSummary([]);
    summary.record(outcome(`spiffe://t/${'p'.repeat(3000)}`, B, false, { reason: 'x'.repeat(1000) }));
    expect(summary.window().denials[0]!.reason).toHaveLength(201);
    expect(summary.window().edges[0]!.source).toHaveLength(257);
  });
});

describe('mergeWindows', () => {
  it('sums workers\' windows; a denial keeps the latest example', () => {
    const time = clock();
    const one = new LiveSummary([], time.now);
    const two = new LiveSummary([], time.now);
    one.record(outcome(A, B, true, { cache: 'hit' }));
    one.record(outcome(A, B, false));
    time.advance(1000);
    const later = outcome(A, B, false);
    two.record(later);
    two.record(outcome(B, A, true));
    const merged = mergeWindows([one.window(), two.window()], time.now());
    expect(merged.edges).toEqual([
      { source: A, destination: B, allow: 1, deny: 2, allow_recent: 1, deny_recent: 2 },
      { source: B, destination: A, allow: 1, deny: 0, allow_recent: 1, deny_recent: 0 },
    ]);
    expect(merged.denials).toEqual([expect.objectContaining({ count: 2, example_decision_id: later.decisionId })]);
    expect(merged.cache).toEqual({ hit: 1, miss: 3, off: 0 });
    expect(merged.latency.counts.reduce((a, b) => a + b, 0)).toBe(4);
    expect(mergeWindows([], time.now()).edges).toEqual([]);
  });
});
