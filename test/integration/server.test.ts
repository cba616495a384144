/**
 * A real gatehouse (gRPC + admin HTTP) with the example policy compiled by the real OPA compiler,
 * called by a real grpc-js client.
 */
import { copyFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestApp, type TestApp } from '../support/app.js';
import { buildExampleBundle, tempDir } from '../support/policy.js';
import { CHECKOUT, INVENTORY, PAYMENTS, checkRequestJson } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

describe.skipIf(tool.skip)('serving the example policy', () => {
  let t: TestApp;
  let dir: string;
  let bundle: string;

  beforeAll(async () => {
    dir = tempDir();
    bundle = path.join(dir, 'bundle.tar.gz');
    copyFileSync(buildExampleBundle(tool.opa, dir), bundle);
    t = await startTestApp({ bundle });
  });
  afterAll(async () => t?.stop());

  it('allows a caller the policy permits, with the policy headers and a decision id', async () => {
    const reply = await t.client.check(checkRequestJson({ source: CHECKOUT, destination: INVENTORY, method: 'GET', path: '/api/v1/stock/sku-9' }));
    expect(reply.allowed).toBe(true);
    expect(reply.headers['x-caller-spiffe-id']).toBe(CHECKOUT);
    expect(reply.headers['x-gatehouse-rule']).toBe('checkout-reads-stock');
    expect(reply.appendActions).toEqual(['OVERWRITE_IF_EXISTS_OR_ADD', 'OVERWRITE_IF_EXISTS_OR_ADD']);
    expect(reply.metadata.decision_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('denies a caller the policy does not permit with 403 and the policy reason', async () => {
    const reply = await t.client.check(checkRequestJson({ source: PAYMENTS, destination: INVENTORY, method: 'GET', path: '/api/v1/stock/sku-9' }));
    expect(reply.allowed).toBe(false);
    expect(reply.rpcCode).toBe(7);
    expect(reply.httpStatus).toBe(403);
    expect(JSON.parse(reply.body!)).toEqual({ error: 'forbidden', reason: `${PAYMENTS} may not call inventory` });
    expect(reply.metadata.reason_code).toBe('policy_denied');
    await eventually(() => t.decisions.some((d) => d.decision_id === reply.metadata.decision_id));
    const event = t.decisions.find((d) => d.decision_id === reply.metadata.decision_id)!;
    expect(event.gatehouse).toMatchObject({ outcome: 'deny', reason_code: 'policy_denied', reason: `${PAYMENTS} may not call inventory` });
    expect(event.result.allowed).toBe(false);
    expect(event.bundles.main.revision).toMatch(/^sha256:/);
    expect(event.input.attributes.request.http.method).toBe('GET');
  });

  it('gives every response a fresh decision id that matches its log line', async () => {
    const request = checkRequestJson({ source: CHECKOUT, destination: INVENTORY });
    const [a, b] = await Promise.all([t.client.check(request), t.client.check(request)]);
    expect(a.metadata.decision_id).not.toBe(b.metadata.decision_id);
    await eventually(() => t.decisions.some((d) => d.decision_id === b.metadata.decision_id));
  });

  it('masks secret headers in the decision log but not in the policy input', async () => {
    const reply = await t.client.check(checkRequestJson({ source: CHECKOUT, headers: { authorization: 'Bearer secret-token', cookie: 'sid=1' } }));
    await eventually(() => t.decisions.some((d) => d.decision_id === reply.metadata.decision_id));
    const event = t.decisions.find((d) => d.decision_id === reply.metadata.decision_id)!;
    expect(event.input.attributes.request.http.headers.authorization).toBe('[masked]');
    expect(event.input.attributes.request.http.headers.cookie).toBe('[masked]');
    expect(JSON.stringify(event)).not.toContain('secret-token');
  });

  it.each([
    ['no attributes', {}, 400, 'input_parse_error'],
    ['no request.http', { attributes: { source: { principal: CHECKOUT } } }, 400, 'input_parse_error'],
    ['a relative path', checkRequestJson({ source: CHECKOUT, path: 'api/v1/stock' }), 400, 'input_parse_error'],
    ['an empty path', checkRequestJson({ source: CHECKOUT, path: '' }), 400, 'input_parse_error'],
    ['an invalid percent escape', checkRequestJson({ source: CHECKOUT, path: '/api/v1/stock/%zz' }), 400, 'input_parse_error'],
    ['a dot-dot segment', checkRequestJson({ source: CHECKOUT, path: '/api/v1/stock/%2e%2e/admin' }), 400, 'input_parse_error'],
    ['an invalid JSON body', checkRequestJson({ source: CHECKOUT, method: 'POST', path: '/api/v1/reservations', headers: { 'content-type': 'application/json' }, body: '{"sku": ' }), 400, 'input_parse_error'],
  ])('denies a request with %s: HTTP %i, %s, never an RPC error', async (_name, request, status, code) => {
    const reply = await t.client.check(request as Record<string, unknown>);
    expect(reply.allowed).toBe(false);
    expect(reply.httpStatus).toBe(status);
    expect(reply.metadata.reason_code).toBe(code);
  });

  it('survives a body nested 50000 levels deep: a 400 deny, a log line, and the next Check still answered', async () => {
    const depth = 50_000;
    const reply = await t.client.check(
      checkRequestJson({ source: CHECKOUT, method: 'POST', headers: { 'content-type': 'application/json' }, body: `${'['.repeat(depth)}${']'.repeat(depth)}` }),
    );
    expect(reply).toMatchObject({ allowed: false, httpStatus: 400, metadata: { reason_code: 'input_parse_error' } });
    await eventually(() => t.decisions.some((d) => d.decision_id === reply.metadata.decision_id));
    expect((await t.client.check(checkRequestJson({ source: CHECKOUT }))).allowed).toBe(true);
  });

  it('denies a body far over max_body_bytes with body_too_large, never an RPC error', async () => {
    const reply = await t.client.check(checkRequestJson({ source: CHECKOUT, method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(5_000_000) }));
    expect(reply).toMatchObject({ allowed: false, httpStatus: 413, metadata: { reason_code: 'body_too_large' } });
  });

  it('denies bytes that are not a CheckRequest at all', async () => {
    const reply = await t.client.check(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect(reply.allowed).toBe(false);
    expect(reply.httpStatus).toBe(400);
    expect(reply.metadata.reason_code).toBe('input_parse_error');
  });

  it('reports SERVING on grpc.health.v1 and ready on /readyz with the revision', async () => {
    expect(await t.client.health()).toBe('SERVING');
    expect(await t.client.health('envoy.service.auth.v3.Authorization')).toBe('SERVING');
    const ready = await t.admin('/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text).policy.revision).toMatch(/^sha256:/);
    expect((await t.admin('/healthz')).status).toBe(200);
  });

  it('exports decisions by outcome and reason on /metrics', async () => {
    await t.client.check(checkRequestJson({ source: PAYMENTS }));
    await eventually(async () => /gatehouse_decisions_total\{outcome="deny",reason="policy_denied"\} [1-9]/.test((await t.admin('/metrics')).text));
    const { text } = await t.admin('/metrics');
    expect(text).toMatch(/gatehouse_decisions_total\{outcome="allow",reason="policy_allowed"\} [1-9]/);
    expect(text).toMatch(/gatehouse_check_duration_seconds_bucket\{le="0.000025",outcome="allow"\}/);
    expect(text).toMatch(/gatehouse_policy_info\{revision="sha256:[0-9a-f]+"\} 1/);
    expect(text).toContain('gatehouse_check_errors_total{code="input_parse_error"}');
    expect(text).not.toContain(CHECKOUT); // never a principal as a label
  });

  it('keeps serving the last good policy when a corrupt bundle replaces it', async () => {
    const before = JSON.parse((await t.admin('/readyz')).text).policy.revision;
    const corrupt = path.join(dir, 'corrupt.tmp');
    writeFileSync(corrupt, 'this is not a gzip file');
    renameSync(corrupt, bundle);
    await eventually(() => t.logs.some((l) => l.msg === 'policy bundle rejected; the previous revision keeps serving'));
    const ready = JSON.parse((await t.admin('/readyz')).text);
    expect(ready.ready).toBe(true);
    expect(ready.policy.revision).toBe(before);
    expect(ready.last_reload_error.code).toBe('bundle_invalid');
    const reply = await t.client.check(checkRequestJson({ source: CHECKOUT }));
    expect(reply.allowed).toBe(true);
    expect((await t.admin('/metrics')).text).toMatch(/gatehouse_policy_reloads_total\{result="failed"\} [1-9]/);
  });
});
