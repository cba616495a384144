/**
 * gatehouse's own mTLS listener, called by a real Envoy presenting a client certificate: a leaf
 * that is a CA or can sign certificates, or a SPIFFE ID issued by another trust domain's CA
 * (tls_client_trust_bundles), gets a deny (client_certificate_invalid), which Envoy enforces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { createCa, issueLeaf, issueSvid } from '../support/pki.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';
import { envoyOrSkip } from './envoy.js';
import { request, startSidecar, startUpstream, type Sidecar } from './sidecar.js';

const tool = envoyOrSkip();
const opa = opaOrSkip();
const ENVOY_ID = 'spiffe://mesh.local/ns/shop/sa/inventory';

describe.skipIf(tool.skip || opa.skip)(`Envoy ${tool.version} calling gatehouse over mTLS with its client certificate`, () => {
  let dir: string;
  let meshCa: { cert: string; key: string };
  let partnerCa: { cert: string; key: string };
  let gatehouse: TestApp;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  const sidecars: Sidecar[] = [];

  beforeAll(async () => {
    dir = tempDir('gatehouse-mtls-e2e-');
    meshCa = createCa(dir, 'mesh-ca', 'mesh.local');
    partnerCa = createCa(dir, 'partner-ca', 'partner.example');
    const server = issueLeaf(dir, 'gatehouse', meshCa, 'basicConstraints=critical,CA:FALSE', 'subjectAltName=DNS:localhost');
    const bundle = buildBundle(opa.opa, { 'policy.rego': 'package envoy.authz\n\nallow := true\n' }, `${dir}/bundle.tar.gz`, { restrictBuiltins: false });
    gatehouse = await startTestApp(
      { bundle, 'tls-cert-file': server.cert, 'tls-key-file': server.key, 'tls-client-trust-bundles': `mesh.local=${meshCa.cert},partner.example=${partnerCa.cert}` },
      { client: false },
    );
    upstream = await startUpstream();
  });

  afterAll(async () => {
    for (const sidecar of sidecars) await sidecar.stop();
    await upstream?.close();
    await gatehouse?.stop();
  });

  async function callThroughEnvoyWith(client: { cert: string; key: string }) {
    const sidecar = await startSidecar({
      envoy: tool.envoy, dir: tempDir('gatehouse-mtls-envoy-'), gatehousePort: gatehouse.app.grpcPort, upstreamPort: upstream.port,
      failureModeAllow: false, gatehouseTls: { ...client, ca: meshCa.cert },
    });
    sidecars.push(sidecar);
    const reply = await request(sidecar, { path: '/x' });
    await expect.poll(() => sidecar.accessLog().find((line) => line.request_id === reply.requestId)).toBeDefined();
    const access = sidecar.accessLog().find((line) => line.request_id === reply.requestId)!;
    return { reply, access, reason: gatehouse.decisions.find((d) => d.decision_id === access.decision_id)?.gatehouse?.reason as string | undefined };
  }

  it('an Envoy with a proper SVID of its trust domain gets decisions (allow)', async () => {
    const { reply } = await callThroughEnvoyWith(issueSvid(dir, 'envoy-ok', ENVOY_ID, meshCa));
    expect(reply.status).toBe(200);
  });

  it.each([
    ['a leaf with CA:TRUE', () => issueLeaf(dir, 'envoy-ca', meshCa, 'basicConstraints=critical,CA:TRUE', 'keyUsage=critical,digitalSignature', `subjectAltName=URI:${ENVOY_ID}`), 'must not be a CA certificate (basicConstraints CA:TRUE)'],
    ['a leaf with keyCertSign', () => issueLeaf(dir, 'envoy-certsign', meshCa, 'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyCertSign', `subjectAltName=URI:${ENVOY_ID}`), 'must not be able to sign certificates (keyUsage keyCertSign)'],
    ['a mesh.local ID issued by the partner.example CA', () => issueSvid(dir, 'envoy-cross', ENVOY_ID, partnerCa), `${ENVOY_ID} was not issued by a CA of its trust domain "mesh.local"`],
  ])('an Envoy presenting %s is denied, naming the rule', async (_name, leaf, rule) => {
    const { reply, access, reason } = await callThroughEnvoyWith(leaf());

    expect(reply.status).toBe(403);
    expect(access).toMatchObject({ reason_code: 'client_certificate_invalid', upstream_host: null });
    expect(reason).toContain(rule);
  });
});
