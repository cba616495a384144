/**
 * Policies that misbehave, compiled by the real OPA compiler and served for real: each ends as a
 * deny with a specific reason, never an allow and never an RPC error.
 */
import { copyFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startTestApp, type TestApp } from '../support/app.js';
import { buildBundle, buildExampleBundle, tempDir } from '../support/policy.js';
import { CHECKOUT, checkRequestJson } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

const policy = (body: string) => ({ 'policy.rego': `package envoy.authz\n\n${body}\n` });

describe.skipIf(tool.skip)('policies that do not produce a valid decision', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it.each([
    ['a number', 'allow := 1', 'decision_invalid', 'the decision must be a boolean or an object with "allowed", got number 1'],
    ['a string', 'allow := "yes"', 'decision_invalid', 'the decision must be a boolean or an object with "allowed", got string "yes"'],
    ['an object without allowed', 'allow := {"http_status": 200}', 'decision_invalid', 'decision.allowed must be a boolean, got nothing'],
    ['allowed as a string', 'allow := {"allowed": "true"}', 'decision_invalid', 'decision.allowed must be a boolean, got string "true"'],
    ['a header with CRLF', 'allow := {"allowed": true, "headers": {"x-a": "1\\r\\nx-b: 2"}}', 'decision_invalid', 'decision.headers["x-a"] has a value with CR, LF or NUL'],
    ['an out-of-range http_status', 'allow := {"allowed": false, "http_status": 99}', 'decision_invalid', 'decision.http_status must be an HTTP status code Envoy supports'],
    ['undefined', 'allow if input.nothing == "here"', 'decision_undefined', 'the policy decision is undefined'],
    ['conflicting values', 'allow := true if input.attributes\nallow := false if input.parsed_path', 'eval_error', 'policy evaluation failed'],
  ])('a decision that is %s is denied with %s', async (_name, rego, code, message) => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, policy(rego), path.join(dir, 'b.tar.gz'));
    t = await startTestApp({ bundle });
    const reply = await t.client.check(checkRequestJson({ source: CHECKOUT }));
    expect(reply.allowed).toBe(false);
    expect(reply.httpStatus).toBe(403);
    expect(reply.metadata.reason_code).toBe(code);
    await eventually(() => t!.decisions.length > 0);
    expect(t.decisions[0]!.error.code).toBe(code);
    expect(t.decisions[0]!.error.message).toContain(message);
  });

  it('a boolean true decision allows with no mutations', async () => {
    const dir = tempDir();
    t = await startTestApp({ bundle: buildBundle(tool.opa, policy('allow := true'), path.join(dir, 'b.tar.gz')) });
    const reply = await t.client.check(checkRequestJson({ source: CHECKOUT }));
    expect(reply.allowed).toBe(true);
    expect(reply.headers).toEqual({});
  });

  it('maps http_status 401 to UNAUTHENTICATED and sends the policy body and headers', async () => {
    const dir = tempDir();
    const rego = 'allow := {"allowed": false, "http_status": 401, "body": "log in", "headers": {"www-authenticate": "Bearer"}}';
    t = await startTestApp({ bundle: buildBundle(tool.opa, policy(rego), path.join(dir, 'b.tar.gz')) });
    const reply = await t.client.check(checkRequestJson({ source: CHECKOUT }));
    expect(reply).toMatchObject({ allowed: false, rpcCode: 16, httpStatus: 401, body: 'log in', headers: { 'www-authenticate': 'Bearer' } });
  });

  it('refuses a bundle whose policy calls a builtin Wasm does not provide, and denies with 503', async () => {
    const dir = tempDir();
    const rego = 'allow if http.send({"method": "get", "url": "http://127.0.0.1:9"}).status_code == 200';
    const bundle = buildBundle(tool.opa, policy(rego), path.join(dir, 'b.tar.gz'), { restrictBuiltins: false });
    t = await startTestApp({ bundle });
    const reply = await t.client.check(checkRequestJson({ source: CHECKOUT }));
    expect(reply).toMatchObject({ allowed: false, httpStatus: 503, metadata: { reason_code: 'policy_not_loaded' } });
    const rejected = t.logs.find((l) => l.code === 'bundle_invalid');
    expect(rejected?.error).toContain('http.send');
  });

  it('refuses at build time a policy that calls a builtin Wasm does not provide', () => {
    const dir = tempDir();
    const rego = 'allow if http.send({"method": "get", "url": "http://127.0.0.1:9"}).status_code == 200';
    expect(() => buildBundle(tool.opa, policy(rego), path.join(dir, 'b.tar.gz'))).toThrow(/http\.send/);
  });

  it('refuses a bundle that does not define the entrypoint', async () => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, policy('decision := true'), path.join(dir, 'b.tar.gz'), { entrypoint: 'envoy/authz/decision' });
    t = await startTestApp({ bundle });
    const reply = await t.client.check(checkRequestJson({ source: CHECKOUT }));
    expect(reply.metadata.reason_code).toBe('policy_not_loaded');
    expect(t.logs.find((l) => l.code === 'bundle_invalid')?.error).toContain('does not define entrypoint "envoy/authz/allow"');
  });
});

describe.skipIf(tool.skip)('starting without a bundle', () => {
  it('is not ready and denies with 503 until the bundle appears, then serves it', async () => {
    const dir = tempDir();
    const bundle = path.join(dir, 'bundle.tar.gz');
    const t = await startTestApp({ bundle });
    try {
      expect(await t.client.health()).toBe('NOT_SERVING');
      const ready = await t.admin('/readyz');
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.text).reason).toBe('no policy bundle loaded');
      const denied = await t.client.check(checkRequestJson({ source: CHECKOUT }));
      expect(denied).toMatchObject({ allowed: false, httpStatus: 503, metadata: { reason_code: 'policy_not_loaded' } });

      const built = buildExampleBundle(tool.opa, tempDir());
      copyFileSync(built, `${bundle}.tmp`);
      renameSync(`${bundle}.tmp`, bundle);
      await eventually(async () => (await t.client.health()) === 'SERVING');
      expect((await t.client.check(checkRequestJson({ source: CHECKOUT }))).allowed).toBe(true);
    } finally {
      await t.stop();
    }
  });
});
