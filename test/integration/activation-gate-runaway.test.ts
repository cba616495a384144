/**
 * The activation gate against a candidate that runs away (review of issue 14 item 3): with recent
 * inputs the active bundle denied only, the candidate's eval_timeout on one of them refuses the
 * bundle (it used to count as deny_to_error until the time budget ran out, and the bundle was
 * activated: every Check then eval_timeout). The candidate runs on the gate's own thread: the
 * threads serving Checks are never stopped for it, and the warning names the candidate.
 */
import { renameSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startTestApp, type TestApp } from '../support/app.js';
import { buildBundle, tempDir, RUNAWAY_BODY } from '../support/policy.js';
import { CHECKOUT, checkRequestJson } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
const DEADLINE_MS = '500';

const ACTIVE = 'package envoy.authz\n\nimport rego.v1\n\ndefault allow := false\n\nallow if input.parsed_path == ["public"]\n';
const RUNAWAY = `package envoy.authz

import rego.v1

default allow := false

allow if {
${RUNAWAY_BODY}
}
`;

describe.skipIf(tool.skip)('activation gate and a runaway candidate', () => {
  let t: TestApp | undefined;
  afterEach(async () => t?.stop());

  it('refuses a candidate that runs past eval_timeout_ms on an input the active bundle denied, on its own thread', async () => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, { 'p.rego': ACTIVE }, path.join(dir, 'bundle.tar.gz'));
    t = await startTestApp({ bundle, 'eval-timeout-ms': DEADLINE_MS });
    const check = (p: string) => t!.client.check(checkRequestJson({ source: CHECKOUT, method: 'GET', path: `/${p}` }));
    for (let i = 0; i < 10; i++) expect((await check(`n/${i}`)).metadata.reason_code).toBe('policy_denied');
    const reloads = () => t!.logs.filter((l) => l.msg?.startsWith('policy bundle')).length;
    const before = reloads();
    renameSync(buildBundle(tool.opa, { 'p.rego': RUNAWAY }, path.join(dir, 'next.tar.gz')), bundle);
    await eventually(() => reloads() > before, 30_000);
    const ready = JSON.parse((await t!.admin('/readyz')).text);
    expect(ready.last_reload_error.message).toContain('eval_timeout');
    // The active bundle keeps serving.
    expect((await check('public')).allowed).toBe(true);
    expect((await check('n/after')).metadata.reason_code).toBe('policy_denied');
    // The candidate's thread was stopped, and named as the candidate's; no serving thread was.
    expect(t!.logs.some((l) => l.policy === 'gate_candidate' && l.why === 'timeout')).toBe(true);
    expect(t!.logs.some((l) => l.policy === 'active' && l.why === 'timeout')).toBe(false);
  }, 60_000);
});
