/** RecentInputs: which Checks it keeps, distinctness, and its bounds (count and bytes). */
import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../src/authz/outcome.js';
import { GatehouseError } from '../../src/errors.js';
import { RecentInputs } from '../../src/policy/activation-gate.js';
import type { WasmPolicy } from '../../src/policy/evaluator.js';

/** An evaluated Check (authorize keeps the input's JSON text); a cache hit has no inputJson. */
const outcome = (id: string, input: unknown, extra: Partial<Outcome> = {}): Outcome =>
  ({ decisionId: id, allowed: true, reasonLabel: 'policy_allowed', revision: 'r1', input, inputJson: input === undefined ? undefined : JSON.stringify(input), ...extra }) as unknown as Outcome;

/** A stand-in policy: allows inputs whose `n` is even, and has no decision for n = 13. */
const policy = { revision: 'r2', digest: 'd2', evaluate: (bytes: Uint8Array) => {
  const n = (JSON.parse(new TextDecoder().decode(bytes)) as { n: number }).n;
  return n === 13 ? [] : [{ result: n % 2 === 0 }];
} } as unknown as WasmPolicy;

/** A stand-in active policy that decides everything (allow). */
const active = { revision: 'r1', digest: 'd1', cachePlan: { enabled: false, why: '' }, evaluate: () => [{ result: true }] } as unknown as WasmPolicy;

describe('RecentInputs', () => {
  it('keeps only inputs the policy decided', async () => {
    const recent = new RecentInputs(10, 1 << 20);
    recent.record(outcome('a', { n: 1 }), active);
    recent.record(outcome('b', { n: 2 }, { reasonLabel: 'eval_error', error: {} as never }), active);
    recent.record(outcome('c', { n: 3 }, { reasonLabel: 'request_refused', hygiene: {} as never }), active);
    recent.record(outcome('d', undefined), active);
    recent.record(outcome('e', { n: 4 }, { cache: 'hit', inputJson: undefined }), active);
    expect(recent.size).toBe(1);
  });

  it('keeps each distinct input once, the newest decision id, and evicts the oldest past the count', async () => {
    const recent = new RecentInputs(3, 1 << 20);
    for (const [id, n] of [['a', 2], ['b', 4], ['c', 2], ['d', 6], ['e', 8]] as const) recent.record(outcome(id, { n }), active);
    expect(recent.size).toBe(3);
    // n=4 (b) was the oldest after n=2 was refreshed by c; policy allows every even n: no flips.
    expect(await recent.check(policy, active)).toEqual({ checked: 3, skipped: 0, allowToDeny: 0, denyToAllow: 0, denyToError: 0, flipped: [], unchecked: 0 });
  });

  it('admits at most activation_gate_inputs Checks a second (bursts of twice that), so a busy server keeps a spread, not every input', async () => {
    let clock = 0;
    const recent = new RecentInputs(10, 1 << 20, () => clock);
    // The gate's refusal names the oldest sample the candidate erred on: here, the oldest sample.
    const failing = { revision: 'r3', digest: 'd3', evaluate: () => { throw new GatehouseError('eval_error', 'boom'); } } as unknown as WasmPolicy;
    const oldest = async () => String(await recent.check(failing, active).catch((e: Error) => e.message));
    // 1,000 distinct Checks in one instant: the first 20 are admitted (the burst), the newest 10 of those kept.
    for (let n = 0; n < 1000; n++) recent.record(outcome(`burst${n}`, { n: n * 2 }), active);
    expect(recent.size).toBe(10);
    expect(await oldest()).toMatch(/decision id burst10\b|\bburst10\b/);
    // 100 ms later one more is admitted (10 a second): it evicts burst10 only.
    clock = 100;
    for (let n = 0; n < 50; n++) recent.record(outcome(`later${n}`, { n: n * 2 + 5000 }), active);
    expect(await oldest()).toMatch(/\bburst11\b/);
    // 1 s after that, ten more: second0..second9 replace everything.
    clock = 1100;
    for (let n = 0; n < 50; n++) recent.record(outcome(`second${n}`, { n: n * 2 + 9000 }), active);
    expect(recent.size).toBe(10);
    expect(await oldest()).toMatch(/\bsecond0\b/);
  });

  it('stays within its byte bound and skips an input larger than it', async () => {
    const recent = new RecentInputs(100, 64);
    recent.record(outcome('big', { n: 2, pad: 'x'.repeat(100) }), active);
    expect(recent.size).toBe(0);
    for (let n = 0; n < 10; n++) recent.record(outcome(`i${n}`, { n: n * 2, pad: 'xxxxxxxxxx' }), active);
    expect(recent.size).toBeLessThanOrEqual(2);
    expect(recent.size).toBeGreaterThan(0);
  });

  it('skips an input the active policy no longer decides either', async () => {
    const recent = new RecentInputs(10, 1 << 20);
    recent.record(outcome('thirteen', { n: 13 }), active);
    expect(await recent.check(policy, policy)).toEqual({ checked: 0, skipped: 1, allowToDeny: 0, denyToAllow: 0, denyToError: 0, flipped: [], unchecked: 0 });
  });

  it('evaluates quietly and refuses with the error code only, never the message (it may quote live values)', async () => {
    const recent = new RecentInputs(10, 1 << 20);
    recent.record(outcome('secret', { token: 'Bearer SUPERSECRET' }), active);
    const calls: unknown[] = [];
    const leaky = { revision: 'r2', evaluate: (_bytes: Uint8Array, call: unknown) => {
      calls.push(call);
      throw new GatehouseError('decision_invalid', 'decision.allowed must be a boolean, got string "Bearer SUPERSECRET"');
    } } as unknown as WasmPolicy;
    const thrown = await recent.check(leaky, active).then(() => undefined, (error: Error) => error);
    expect(thrown?.message).toContain('decision_id secret): decision_invalid.');
    expect(thrown?.message).not.toContain('SUPERSECRET');
    expect(calls).toEqual([{ quiet: true }]);
  });

  it('yields to the event loop every slice and stops at its budget without refusing', async () => {
    const recent = new RecentInputs(10, 1 << 20);
    for (let n = 0; n < 6; n++) recent.record(outcome(`i${n}`, { n: n * 2 }), active);
    let clock = 0;
    let otherWork = false;
    const seen: boolean[] = [];
    const ticking = { revision: 'r2', evaluate: (bytes: Uint8Array) => {
      seen.push(otherWork);
      clock += 1; // each evaluation takes 1 ms
      return policy.evaluate(bytes);
    } } as unknown as WasmPolicy;
    setImmediate(() => (otherWork = true)); // other work waiting: it runs at the gate's first yield
    const summary = await recent.check(ticking, active, { sliceMs: 2, budgetMs: 4, nowMs: () => clock });
    expect(seen).toEqual([false, false, true, true]);
    expect(summary).toMatchObject({ checked: 4, unchecked: 2 });
    // Recorded while it yields: not part of this check, kept for the next.
    recent.record(outcome('late', { n: 100 }), active);
    expect(recent.size).toBe(7);
  });

  it('refuses a candidate that erred on every input it checked before its budget ran out', async () => {
    const recent = new RecentInputs(10, 1 << 20);
    for (let n = 0; n < 6; n++) recent.record(outcome(`denied${n}`, { n }, { allowed: false, reasonLabel: 'policy_denied' }), active);
    let clock = 0;
    const failing = { revision: 'r2', evaluate: () => {
      clock += 1;
      throw new Error('policy aborted');
    } } as unknown as WasmPolicy;
    await expect(recent.check(failing, active, { sliceMs: 100, budgetMs: 3, nowMs: () => clock })).rejects.toThrow(/erred on every one of the 3 recent inputs it checked/);
    // With every input checked it is the usual summary (deny to error is still a deny).
    clock = 0;
    expect(await recent.check(failing, active, { sliceMs: 100, budgetMs: 100, nowMs: () => clock })).toMatchObject({ checked: 6, denyToError: 6, unchecked: 0 });
  });

  it('refuses a candidate that runs past eval_timeout_ms on an input the active policy denied', async () => {
    const recent = new RecentInputs(10, 1 << 20);
    recent.record(outcome('denied', { n: 1 }, { allowed: false, reasonLabel: 'policy_denied' }), active);
    const runaway = { revision: 'r2', evaluate: () => {
      throw new GatehouseError('eval_timeout', 'stopped');
    } } as unknown as WasmPolicy;
    await expect(recent.check(runaway, active)).rejects.toThrow(/\(decision_id denied\): eval_timeout/);
  });

  it('counts flips and refuses a policy that errs, naming the decision id', async () => {
    const recent = new RecentInputs(10, 1 << 20);
    recent.record(outcome('odd-allowed', { n: 1 }), active);
    recent.record(outcome('even-denied', { n: 2 }, { allowed: false, reasonLabel: 'policy_denied' }), active);
    expect(await recent.check(policy, active)).toEqual({ checked: 2, skipped: 0, allowToDeny: 1, denyToAllow: 1, denyToError: 0, flipped: ['odd-allowed', 'even-denied'], unchecked: 0 });
    // An error on an input the active policy denied is still a deny: counted, not a refusal.
    recent.record(outcome('thirteen-denied', { n: 13 }, { allowed: false, reasonLabel: 'policy_denied' }), active);
    expect(await recent.check(policy, active)).toMatchObject({ checked: 3, denyToError: 1, flipped: ['odd-allowed', 'even-denied', 'thirteen-denied'] });
    // On one it allowed, the candidate is refused.
    recent.record(outcome('thirteen', { n: 13 }), active);
    await expect(recent.check(policy, active)).rejects.toThrow(/allowed \(decision_id thirteen\): decision_undefined/);
  });

  it('keeps its inputs across activations, judging one an earlier bundle decided by what the active one decides now', async () => {
    const earlier = { digest: 'd0', cachePlan: { enabled: false, why: '' } } as const;
    const recent = new RecentInputs(10, 1 << 20);
    // Denied by r0; the active r1 allows it: the candidate's error on it is a refusal.
    recent.record(outcome('denied-by-r0', { n: 13 }, { allowed: false, reasonLabel: 'policy_denied' }), earlier);
    await expect(recent.check(policy, active)).rejects.toThrow(/decision_id denied-by-r0/);
    // Allowed by r0, the active one errs on it now: skipped.
    const recent2 = new RecentInputs(10, 1 << 20);
    recent2.record(outcome('allowed-by-r0', { n: 13 }), earlier);
    const erring = { revision: 'r1', digest: 'd1', evaluate: () => [] } as unknown as WasmPolicy;
    expect(await recent2.check(policy, erring)).toMatchObject({ checked: 0, skipped: 1 });
  });
});
