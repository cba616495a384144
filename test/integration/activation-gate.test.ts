/**
 * The activation gate with a real server and real compiled policies: a bundle that errs on recent
 * live inputs the active bundle allowed is refused (last good keeps serving, reload failure counted,
 * /readyz names the input's decision id); one that only flips decisions, or errs only where the
 * active bundle denied, is activated with a summary.
 */
import { renameSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startTestApp, type TestApp } from '../support/app.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { CHECKOUT, checkRequestJson } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
const GET_ONLY = 'package envoy.authz\n\ndefault allow := false\n\nallow if input.attributes.request.http.method == "GET"\n';
// No default: undefined for anything but GET.
const UNDEFINED_FOR_POST = 'package envoy.authz\n\nallow if input.attributes.request.http.method == "GET"\n';
// No default: undefined for anything but POST.
const UNDEFINED_FOR_GET = 'package envoy.authz\n\nallow if input.attributes.request.http.method == "POST"\n';
// Returns the caller's token as the decision (decision_invalid), whose message would quote it.
const TOKEN_AS_DECISION = 'package envoy.authz\n\nallow := input.attributes.request.http.headers.authorization\n';
// Prints the caller's token and decides as GET_ONLY does: passes the gate.
const PRINTS_TOKEN = 'package envoy.authz\n\ndefault allow := false\n\nallow if {\n\tprint("token", input.attributes.request.http.headers.authorization)\n\tinput.attributes.request.http.method == "GET"\n}\n';
const SECRET = 'Bearer SUPERSECRET';
// No default: undefined for GET /rare, which GET_ONLY allows.
const UNDEFINED_FOR_RARE = 'package envoy.authz\n\nallow if {\n\tinput.attributes.request.http.method == "GET"\n\tinput.attributes.request.http.path != "/rare"\n}\n';
// GET_ONLY's decisions after a few milliseconds of pointless work per evaluation.
const SLOW_GET_ONLY =
  'package envoy.authz\n\ndefault allow := false\n\nallow if {\n\tcount([x | some x in numbers.range(1, 20000); x % 7 == 0]) > 0\n\tinput.attributes.request.http.method == "GET"\n}\n';
const POST_ONLY = 'package envoy.authz\n\ndefault allow := false\n\nallow if input.attributes.request.http.method == "POST"\n';

describe.skipIf(tool.skip)('activation gate', () => {
  let t: TestApp | undefined;
  let dir: string;
  let bundle: string;
  afterEach(async () => t?.stop());

  async function start(flags: Record<string, string> = {}): Promise<TestApp> {
    dir = tempDir();
    bundle = buildBundle(tool.opa, { 'p.rego': GET_ONLY }, path.join(dir, 'bundle.tar.gz'));
    t = await startTestApp({ bundle, ...flags });
    return t;
  }
  async function replace(rego: string): Promise<void> {
    const next = buildBundle(tool.opa, { 'p.rego': rego }, path.join(dir, 'next.tar.gz'));
    const reloads = t!.logs.filter((l) => l.msg?.startsWith('policy bundle')).length;
    renameSync(next, bundle);
    await eventually(() => t!.logs.filter((l) => l.msg?.startsWith('policy bundle')).length > reloads);
  }
  const get = () => t!.client.check(checkRequestJson({ source: CHECKOUT, method: 'GET' }));
  const post = () => t!.client.check(checkRequestJson({ source: CHECKOUT, method: 'POST', path: '/api/v1/reservations' }));

  it('refuses a bundle whose decision is undefined on a recent input the active one allowed, naming its decision id; the old one keeps serving', async () => {
    await start();
    const revision = JSON.parse((await t!.admin('/readyz')).text).policy.revision;
    const allowed = await get();
    expect(allowed.allowed).toBe(true);
    expect((await post()).allowed).toBe(false);

    await replace(UNDEFINED_FOR_GET);
    const ready = JSON.parse((await t!.admin('/readyz')).text);
    expect(ready).toMatchObject({ ready: true, policy: { revision }, last_reload_error: { code: 'bundle_invalid' } });
    expect(ready.last_reload_error.message).toContain(`activation gate`);
    expect(ready.last_reload_error.message).toContain(`allowed (decision_id ${allowed.metadata.decision_id}): decision_undefined`);
    expect((await t!.admin('/metrics')).text).toMatch(/gatehouse_policy_reloads_total\{result="failed"\} 1/);
    // Still the GET-only policy: GET allowed, POST denied by it (not an undefined-decision error).
    expect((await get()).allowed).toBe(true);
    expect((await post()).metadata.reason_code).toBe('policy_denied');
  });

  it('activates a bundle that errs only on inputs the active one denied (still denies), counting them', async () => {
    await start();
    await get();
    const denied = await post();
    await replace(UNDEFINED_FOR_POST);
    const gateLine = t!.logs.find((l) => l.msg?.startsWith('activation gate passed'));
    expect(gateLine).toMatchObject({ inputs_checked: 2, allow_to_deny: 0, deny_to_allow: 0, deny_to_error: 1, flipped_decision_ids: [denied.metadata.decision_id] });
    expect((await post()).metadata.reason_code).toBe('decision_undefined');
  });

  it('refuses a bundle that returns a live token as its decision without showing the token in /readyz or the log', async () => {
    await start();
    const allowed = await t!.client.check(checkRequestJson({ source: CHECKOUT, method: 'GET', headers: { authorization: SECRET } }));
    expect(allowed.allowed).toBe(true);
    await replace(TOKEN_AS_DECISION);
    const ready = (await t!.admin('/readyz')).text;
    expect(JSON.parse(ready).last_reload_error.message).toContain(`decision_id ${allowed.metadata.decision_id}): decision_invalid`);
    expect(ready).not.toContain('SUPERSECRET');
    expect(JSON.stringify(t!.logs)).not.toContain('SUPERSECRET');
  });

  it('runs the candidate\'s print() quietly during the gate; once active, it prints for Checks with their decision id', async () => {
    await start();
    await t!.client.check(checkRequestJson({ source: CHECKOUT, method: 'GET', headers: { authorization: SECRET } }));
    await replace(PRINTS_TOKEN);
    expect(t!.logs.some((l) => l.msg?.startsWith('activation gate passed'))).toBe(true);
    expect(JSON.stringify(t!.logs)).not.toContain('SUPERSECRET');
    const after = await t!.client.check(checkRequestJson({ source: CHECKOUT, method: 'GET', headers: { authorization: 'Bearer later' } }));
    expect(t!.logs.find((l) => l.msg === 'policy print')).toMatchObject({ decision_id: after.metadata.decision_id, print: 'token Bearer later' });
  });

  it('keeps answering Checks while it checks a slow candidate', async () => {
    // Every Check evaluated, so every one is sampled. The slow candidate takes milliseconds per
    // input, but on a loaded CI machine one can take over 100 ms of wall time: this test is about
    // the gate yielding, not the evaluation deadline (eval-deadline.test.ts), so the deadline is far.
    await start({ watch: 'false', 'decision-cache': 'off', 'eval-timeout-ms': '10000' });
    await Promise.all(Array.from({ length: 100 }, (_, i) => t!.client.check(checkRequestJson({ source: CHECKOUT, method: 'GET', path: `/api/v1/stock/sku-${i}` }))));
    renameSync(buildBundle(tool.opa, { 'p.rego': SLOW_GET_ONLY }, path.join(dir, 'next.tar.gz')), bundle);
    let reloaded = false;
    const reloading = t!.app.store.reload().finally(() => (reloaded = true));
    // Checks one after another until the reload is over; some must be answered between the gate's
    // start and end (a gate that held the event loop would leave no room for any).
    const gateRunning = () => t!.logs.some((l) => l.msg === 'activation gate started') && !t!.logs.some((l) => l.msg?.startsWith('activation gate passed'));
    let answeredDuringGate = 0;
    while (!reloaded) {
      const during = await t!.client.check(checkRequestJson({ source: CHECKOUT, method: 'GET' }));
      expect(during.allowed).toBe(true);
      if (gateRunning()) answeredDuringGate++;
    }
    expect(answeredDuringGate).toBeGreaterThan(0);
    expect((await reloading).status).toBe('loaded');
    expect(t!.logs.find((l) => l.msg?.startsWith('activation gate passed'))).toMatchObject({ inputs_checked: 100, inputs_unchecked: 0 });
  });

  it('keeps a rare input in the sample through 250 requests that differ only in x-request-id', async () => {
    await start({ 'decision-cache': 'off' }); // no cache plan: inputs are keyed without per-request fields
    const rare = await t!.client.check(checkRequestJson({ source: CHECKOUT, method: 'GET', path: '/rare' }));
    expect(rare.allowed).toBe(true);
    for (let i = 0; i < 250; i++) await t!.client.check(checkRequestJson({ source: CHECKOUT, method: 'GET', headers: { 'x-request-id': `r-${i}` } }));
    await replace(UNDEFINED_FOR_RARE);
    expect(JSON.parse((await t!.admin('/readyz')).text).last_reload_error.message).toContain(`decision_id ${rare.metadata.decision_id}`);
  });

  it('still checks a bad bundle that comes right after a good one (the sample outlives an activation)', async () => {
    await start();
    const allowed = await get();
    await replace(`${GET_ONLY}\nunused := 1\n`);
    expect(t!.logs.some((l) => l.msg?.startsWith('activation gate passed'))).toBe(true);
    await replace(UNDEFINED_FOR_GET);
    const ready = JSON.parse((await t!.admin('/readyz')).text);
    expect(ready.last_reload_error.message).toContain(`decision_id ${allowed.metadata.decision_id}): decision_undefined`);
    expect((await get()).allowed).toBe(true);
  });

  it('warns when it has no recent inputs and activates the bundle unchecked', async () => {
    await start();
    await replace(UNDEFINED_FOR_GET);
    expect(t!.logs.find((l) => l.msg === 'activation gate has no recent inputs; the bundle is activated unchecked')).toMatchObject({ level: 40 });
    expect((await get()).metadata.reason_code).toBe('decision_undefined');
  });

  it('activates a bundle that only flips decisions, logging how many flipped each way', async () => {
    await start();
    const allowed = await get();
    await post();
    await replace(POST_ONLY);
    const gateLine = t!.logs.find((l) => l.msg?.startsWith('activation gate passed'));
    expect(gateLine).toMatchObject({ inputs_checked: 2, allow_to_deny: 1, deny_to_allow: 1 });
    expect(gateLine!.flipped_decision_ids).toContain(allowed.metadata.decision_id);
    expect((await post()).allowed).toBe(true);
    expect((await get()).allowed).toBe(false);
  });

  it('with activation_gate_inputs 0, activates the bundle unchecked', async () => {
    await start({ 'activation-gate-inputs': '0' });
    await get();
    await replace(UNDEFINED_FOR_GET);
    expect(t!.logs.some((l) => l.msg === 'policy bundle loaded' && l.previous_revision)).toBe(true);
    expect((await get()).metadata.reason_code).toBe('decision_undefined');
  });
});
