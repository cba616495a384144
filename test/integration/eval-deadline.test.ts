/**
 * eval_timeout_ms with a real server and a real compiled runaway policy (a billion
 * comparisons): the Check is denied eval_timeout, logged with the policy revision and
 * counted; a cache hit asked for while it runs is answered before the runaway's deny; the
 * evaluation thread is replaced and the next Checks are decided normally. With eval_timeout_ms 0
 * evaluation stays inline.
 */
import { renameSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startTestApp, type TestApp } from '../support/app.js';
import { buildBundle, tempDir, RUNAWAY_BODY } from '../support/policy.js';
import { CHECKOUT, checkRequestJson } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
// Far below the runaway's seconds, far above what a normal evaluation takes on a loaded CI machine.
const DEADLINE_MS = '500';

const ALLOW_ALL = 'package envoy.authz\n\nallow := true\n';

const RUNAWAY = `package envoy.authz

import rego.v1

default allow := false

allow if input.parsed_path == ["public"]

allow if {
\tinput.parsed_path == ["runaway"]
${RUNAWAY_BODY}
}

allow if {
\tinput.parsed_path == ["printed"]
\tprint("printed for", input.attributes.request.http.method)
}
`;

describe.skipIf(tool.skip)('evaluation deadline (eval_timeout_ms)', () => {
  let t: TestApp | undefined;
  afterEach(async () => t?.stop());

  async function start(flags: Record<string, string>): Promise<TestApp> {
    const bundle = buildBundle(tool.opa, { 'p.rego': RUNAWAY }, path.join(tempDir(), 'bundle.tar.gz'), { revision: 'rev-runaway' });
    t = await startTestApp({ bundle, ...flags });
    return t;
  }
  const check = (p: string) => t!.client.check(checkRequestJson({ source: CHECKOUT, method: 'GET', path: `/${p}` }));

  it('denies a runaway evaluation with eval_timeout while a concurrent cache hit is answered first, and keeps serving', async () => {
    await start({ 'eval-timeout-ms': DEADLINE_MS });
    const first = await check('public');
    expect(first.allowed).toBe(true);

    const order: string[] = [];
    const runaway = check('runaway').then((reply) => {
      order.push('runaway');
      return reply;
    });
    // Sent after the runaway Check, on the same connection and process.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const hit = await check('public');
    order.push('hit');
    expect(hit.allowed).toBe(true);
    const denied = await runaway;
    expect(order).toEqual(['hit', 'runaway']);
    expect(denied.allowed).toBe(false);
    expect(denied.httpStatus).toBe(403);
    expect(denied.metadata.reason_code).toBe('eval_timeout');

    await eventually(() => t!.decisions.some((d) => d.error?.code === 'eval_timeout'));
    const line = t!.decisions.find((d) => d.error?.code === 'eval_timeout')!;
    expect(line.bundles).toEqual({ main: { revision: 'rev-runaway' } });
    expect(line.gatehouse.reason_code).toBe('eval_timeout');
    expect(t!.decisions.find((d) => d.decision_id === hit.metadata.decision_id)?.gatehouse?.cache).toBe('hit');
    expect(t!.logs.some((l) => l.msg === 'policy evaluation stopped at eval_timeout_ms; its thread was replaced' && l.why === 'timeout' && l.revision === 'rev-runaway')).toBe(true);
    const metrics = (await t!.admin('/metrics')).text;
    expect(metrics).toMatch(/gatehouse_decisions_total\{outcome="deny",reason="eval_timeout"\} 1/);

    // The replacement thread decides the next Checks (misses) normally, again after a second runaway.
    expect((await check('other')).allowed).toBe(false);
    expect((await check('runaway')).metadata.reason_code).toBe('eval_timeout');
    const after = await Promise.all(['a', 'b', 'c'].map((p) => check(p)));
    expect(after.map((r) => r.metadata.reason_code)).toEqual(['policy_denied', 'policy_denied', 'policy_denied']);
    expect((await check('printed')).allowed).toBe(true);
    await eventually(() => t!.logs.some((l) => l.print === 'printed for GET' && typeof l.decision_id === 'string'));
  });

  it('a runaway shadow candidate is a candidate error at the deadline; the active policy answers meanwhile', async () => {
    const dir = tempDir();
    const candidate = buildBundle(tool.opa, { 'p.rego': RUNAWAY }, path.join(dir, 'candidate.tar.gz'));
    const bundle = buildBundle(tool.opa, { 'p.rego': ALLOW_ALL }, path.join(dir, 'bundle.tar.gz'));
    t = await startTestApp({ bundle, 'candidate-bundle': candidate, 'candidate-sample-percent': '100', 'eval-timeout-ms': DEADLINE_MS });
    const first = await check('runaway');
    expect(first.allowed).toBe(true);
    // Answered while the candidate's evaluation of the first Check may still be running.
    expect((await check('public')).allowed).toBe(true);
    await eventually(() => t!.decisions.some((d) => d.decision_id === first.metadata.decision_id));
    const shadow = t!.decisions.find((d) => d.decision_id === first.metadata.decision_id)!.gatehouse.shadow;
    expect(shadow).toMatchObject({ outcome: 'deny', comparison: 'allow_to_deny' });
    expect(shadow.reason).toContain('eval_timeout');
    expect(t!.logs.some((l) => l.policy === 'candidate' && l.why === 'timeout')).toBe(true);
  });

  it('the activation gate refuses a bundle that runs past the deadline on a recent input the active one allowed', async () => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, { 'p.rego': ALLOW_ALL }, path.join(dir, 'bundle.tar.gz'));
    t = await startTestApp({ bundle, 'eval-timeout-ms': DEADLINE_MS });
    const allowed = await check('runaway');
    expect(allowed.allowed).toBe(true);
    const reloads = () => t!.logs.filter((l) => l.msg?.startsWith('policy bundle')).length;
    const before = reloads();
    renameSync(buildBundle(tool.opa, { 'p.rego': RUNAWAY }, path.join(dir, 'next.tar.gz')), bundle);
    await eventually(() => reloads() > before);
    const ready = JSON.parse((await t!.admin('/readyz')).text);
    expect(ready.last_reload_error.message).toContain(`(decision_id ${allowed.metadata.decision_id}): eval_timeout`);
    // The active (allow-all) policy keeps serving.
    expect((await check('runaway')).allowed).toBe(true);
  });

  it('with eval_timeout_ms 0 evaluates inline and decides as before', async () => {
    await start({ 'eval-timeout-ms': '0' });
    expect((await check('public')).allowed).toBe(true);
    expect((await check('other')).metadata.reason_code).toBe('policy_denied');
    expect((await check('printed')).allowed).toBe(true);
    await eventually(() => t!.logs.some((l) => l.print === 'printed for GET'));
  });
});
