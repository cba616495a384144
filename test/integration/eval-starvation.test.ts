/**
 * A runaway request must not starve other clients (review of issue 13 item 2, from the reviewer's
 * starve test): with both evaluation threads serving, another client's cache misses are answered
 * while a runaway evaluation is still running (before its eval_timeout deny arrives); a request
 * whose evaluation hit eval_timeout is, when repeated, denied eval_timeout at once without
 * costing another thread (authz/recent-runaways.ts). The pool itself drops queued evaluations
 * whose caller gave up (deadline_exceeded) and refuses beyond MAX_QUEUED (eval_queue_full).
 * Orderings and outcomes only, no timings: the deadline is far above a normal evaluation.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GatehouseError } from '../../src/errors.js';
import { readBundle } from '../../src/policy/bundle.js';
import { EvalThreads, MAX_QUEUED } from '../../src/policy/eval-threads.js';
import { WasmPolicy } from '../../src/policy/evaluator.js';
import { eventually, startTestApp, type TestApp } from '../support/app.js';
import { buildBundle, tempDir, RUNAWAY_BODY } from '../support/policy.js';
import { CHECKOUT, checkRequestJson } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
const DEADLINE_MS = '500';

const POLICY = `package envoy.authz

import rego.v1

default allow := false

allow if input.parsed_path == ["public"]

allow if {
\tinput.parsed_path[0] == "runaway"
${RUNAWAY_BODY}
}
`;

describe.skipIf(tool.skip)('a runaway request does not starve other clients', () => {
  let t: TestApp | undefined;
  let threads: EvalThreads | undefined;
  afterEach(async () => {
    await t?.stop();
    await threads?.close();
    t = threads = undefined;
  });

  it('answers another client\'s cache misses while a runaway runs, and denies the runaway\'s repeats eval_timeout without a thread', async () => {
    const bundle = buildBundle(tool.opa, { 'p.rego': POLICY }, path.join(tempDir(), 'bundle.tar.gz'));
    t = await startTestApp({ bundle, 'eval-timeout-ms': DEADLINE_MS });
    const check = (p: string) => t!.client.check(checkRequestJson({ source: CHECKOUT, method: 'GET', path: `/${p}` }));
    // Both threads warm: a few misses decided.
    for (let i = 0; i < 4; i++) expect((await check(`warm/${i}`)).metadata.reason_code).toBe('policy_denied');
    const timeouts = () => t!.logs.filter((l) => l.why === 'timeout').length;

    const order: string[] = [];
    const runaway = check('runaway/a').then((reply) => (order.push('runaway'), reply));
    await new Promise((resolve) => setTimeout(resolve, 50)); // the runaway is on a thread now
    for (let i = 0; i < 3; i++) {
      const reply = await check(`n/${i}`);
      order.push(`miss ${reply.metadata.reason_code}`);
    }
    expect((await runaway).metadata.reason_code).toBe('eval_timeout');
    expect(order).toEqual(['miss policy_denied', 'miss policy_denied', 'miss policy_denied', 'runaway']);
    await eventually(() => timeouts() === 1);

    // The same request again: denied eval_timeout at once, no thread stopped for it.
    for (let i = 0; i < 3; i++) expect((await check('runaway/a')).metadata.reason_code).toBe('eval_timeout');
    expect(timeouts()).toBe(1);
    // Other requests are still decided.
    expect((await check('public')).allowed).toBe(true);
    expect((await check('n/after')).metadata.reason_code).toBe('policy_denied');
  });

  it('drops a queued evaluation whose caller gave up and refuses beyond MAX_QUEUED', async () => {
    const built = await readBundle(buildBundle(tool.opa, { 'p.rego': POLICY }, path.join(tempDir(), 'bundle.tar.gz')), { maxBytes: 1 << 26 });
    threads = new EvalThreads({ timeoutMs: Number(DEADLINE_MS), spare: false });
    const policy = await WasmPolicy.load(built, {
      entrypoint: 'envoy/authz/allow',
      maxMemoryBytes: 256 << 20,
      cache: { mode: 'off', ttlMs: 0, keyFields: [], nondeterministicTtlMs: 0 },
      evalThreads: threads,
      print: () => undefined,
    });
    const input = (p: string[]) => JSON.stringify({ parsed_path: p });
    // One thread, busy with a runaway: everything after it waits in the queue.
    const runaway = policy.evaluateOffThread(input(['runaway'])).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    let gaveUp = false;
    const abandoned = policy.evaluateOffThread(input(['public']), { expired: () => gaveUp }).catch((error: unknown) => error);
    const waiting = Array.from({ length: MAX_QUEUED - 1 }, (_, i) => policy.evaluateOffThread(input(['n', String(i)])).catch((error: unknown) => error));
    const refused = await policy.evaluateOffThread(input(['public'])).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(GatehouseError);
    expect((refused as GatehouseError).code).toBe('eval_queue_full');
    expect(threads.queueFull).toBe(1);
    gaveUp = true;
    expect(((await runaway) as GatehouseError).code).toBe('eval_timeout');
    expect(((await abandoned) as GatehouseError).code).toBe('deadline_exceeded');
    // The rest are decided by the replacement thread.
    const decided = await Promise.all(waiting);
    expect(decided.every((resultSet) => Array.isArray(resultSet))).toBe(true);
  });
});
