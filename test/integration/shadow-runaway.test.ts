/**
 * A runaway shadow candidate (review finding 5): it used to hold every sampled Check's
 * decision-log line until its result came (300 Checks answered, 26 lines after 7 s, memory
 * growing), and at shutdown the backlog was recorded as allow_to_deny. Now at most
 * MAX_SHADOW_PENDING shadow evaluations wait (more Checks are not sampled, with a warning), a line
 * waits a bounded time and is then written with shadow.not_ready, and evaluations cut off by
 * shutdown are no comparison.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_SHADOW_PENDING } from '../../src/policy/shadow.js';
import { eventually, startTestApp, type TestApp } from '../support/app.js';
import { buildBundle, tempDir, RUNAWAY_BODY } from '../support/policy.js';
import { CHECKOUT, checkRequestJson } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

const ACTIVE = 'package envoy.authz\n\nimport rego.v1\n\ndefault allow := false\n\nallow if input.parsed_path == ["public"]\n';
const RUNAWAY = `package envoy.authz

import rego.v1

default allow := false

allow if {
${RUNAWAY_BODY}
}
`;

describe.skipIf(tool.skip)('a runaway shadow candidate', () => {
  let t: TestApp | undefined;
  afterEach(async () => t?.stop());

  it('bounds pending shadow evaluations and the time a decision-log line waits, and records nothing cut off by shutdown', async () => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, { 'p.rego': ACTIVE }, path.join(dir, 'bundle.tar.gz'));
    const candidate = buildBundle(tool.opa, { 'p.rego': RUNAWAY }, path.join(dir, 'candidate.tar.gz'));
    t = await startTestApp({ bundle, 'candidate-bundle': candidate, 'candidate-sample-percent': '100', 'eval-timeout-ms': '200' });
    const check = (p: string) => t!.client.check(checkRequestJson({ source: CHECKOUT, method: 'GET', path: `/${p}` }));
    const N = MAX_SHADOW_PENDING + 36;
    const replies = await Promise.all(Array.from({ length: N }, (_, i) => check(`n/${i}`)));
    expect(replies.every((reply) => reply.metadata.reason_code === 'policy_denied')).toBe(true);
    // Every line is written, the held ones without their shadow result.
    await eventually(() => t!.decisions.length >= N, 30_000);
    const shadows = t!.decisions.map((d) => d.gatehouse.shadow);
    expect(shadows.filter((s) => s === undefined).length).toBeGreaterThanOrEqual(N - MAX_SHADOW_PENDING);
    expect(shadows.some((s) => s?.not_ready === true)).toBe(true);
    expect(t!.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('Checks not sampled'))).toBe(true);

    // Shutdown with shadow evaluations still waiting (the backlog above): none is recorded as a
    // comparison ("the evaluation threads were closed" used to be an allow_to_deny).
    const app = t!;
    t = undefined;
    await app.stop();
    expect(app.decisions.filter((d) => String(d.gatehouse.shadow?.reason ?? '').includes('closed'))).toEqual([]);
    expect(app.decisions.length).toBe(N);
  }, 90_000);
});
