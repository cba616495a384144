/**
 * Through a real Envoy with `failure_mode_allow: true` (which turns any RPC error into an allow):
 * a 65 MiB body makes a CheckRequest over gatehouse's 64 MiB receive limit. It must be denied
 * (413), never reach the upstream, and be in gatehouse's decision log and metrics.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';
import { envoyOrSkip } from './envoy.js';
import { rawValues, request, startSidecar, startUpstream, type Sidecar } from './sidecar.js';

const tool = envoyOrSkip();
const opa = opaOrSkip();

describe.skipIf(tool.skip || opa.skip)(`an oversized CheckRequest through Envoy ${tool.version} with failure_mode_allow`, () => {
  let gatehouse: TestApp;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let sidecar: Sidecar;

  beforeAll(async () => {
    const dir = tempDir('gatehouse-oversized-e2e-');
    // Allow everything: only the size can deny.
    const bundle = buildBundle(opa.opa, { 'policy.rego': 'package envoy.authz\n\nallow := true\n' }, path.join(dir, 'bundle.tar.gz'), { restrictBuiltins: false });
    gatehouse = await startTestApp({ bundle }, { client: false });
    upstream = await startUpstream();
    sidecar = await startSidecar({
      envoy: tool.envoy, dir, gatehousePort: gatehouse.app.grpcPort, upstreamPort: upstream.port,
      failureModeAllow: true, maxRequestBytes: 96 * 1024 * 1024,
    });
  });

  afterAll(async () => {
    await sidecar?.stop();
    await upstream?.close();
    await gatehouse?.stop();
  });

  it('a small body is allowed (the policy allows everything)', async () => {
    const reply = await request(sidecar, { path: '/upload', method: 'POST', body: 'small' });
    expect(reply.status).toBe(200);
  });

  it('a 65 MiB body is denied with 413, logged and counted, and never reaches the upstream', async () => {
    const reply = await request(sidecar, { path: '/upload', method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(65 * 1024 * 1024, 0x61) });

    expect(reply.status).toBe(413);
    expect(upstream.seen.some((r) => rawValues(r.rawHeaders, 'x-request-id')[0] === reply.requestId)).toBe(false);
    const access = await expect.poll(() => sidecar.accessLog().find((line) => line.request_id === reply.requestId), { timeout: 5000 }).toBeDefined();
    void access;
    const line = sidecar.accessLog().find((l) => l.request_id === reply.requestId)!;
    expect(line).toMatchObject({ response_code: 413, response_code_details: 'ext_authz_denied', reason_code: 'body_too_large' });
    // The CheckRequest was never decoded, so the decision log joins Envoy's access log by decision_id.
    await expect.poll(() => gatehouse.decisions.some((d) => d.decision_id === line.decision_id)).toBe(true);
    const decision = gatehouse.decisions.find((d) => d.decision_id === line.decision_id)!;
    expect(decision.error.code).toBe('body_too_large');
    expect(decision.gatehouse.reason).toMatch(/^the CheckRequest is \d+ bytes, more than the 67108864 bytes gatehouse reads/);
    const metrics = await gatehouse.admin('/metrics');
    expect(metrics.text).toMatch(/gatehouse_check_errors_total\{code="body_too_large"\} 1\b/);
    expect(metrics.text).toMatch(/gatehouse_decisions_total\{outcome="deny",reason="body_too_large"\} 1\b/);
  });
});
