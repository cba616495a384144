/**
 * The caller's certificate as a real Envoy forwards it (`include_peer_certificate`): Envoy's TLS
 * accepts any certificate its CA signed, so a leaf that breaks the X.509-SVID rules reaches
 * gatehouse. By default it is denied before the policy runs (source_certificate_invalid), even
 * with a policy that allows everyone and never reads the certificate; with
 * `invalid_source_certificate: policy` the policy decides.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { createCa, issueLeaf, issueSvid } from '../support/pki.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';
import { envoyOrSkip } from './envoy.js';
import { request, startSidecar, startUpstream, type Sidecar } from './sidecar.js';

const tool = envoyOrSkip();
const opa = opaOrSkip();
const CHECKOUT = 'spiffe://mesh.local/ns/shop/sa/checkout';

describe.skipIf(tool.skip || opa.skip)(`forwarded peer certificates through Envoy ${tool.version}`, () => {
  let dir: string;
  let ca: { cert: string; key: string };
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  const running: Array<{ stop(): Promise<void> }> = [];

  beforeAll(async () => {
    dir = tempDir('gatehouse-peer-cert-e2e-');
    ca = createCa(dir, 'mesh-ca', 'mesh.local');
    upstream = await startUpstream();
  });

  afterAll(async () => {
    for (const thing of running.reverse()) await thing.stop();
    await upstream?.close();
  });

  /** gatehouse (allow-all policy) behind an mTLS Envoy, with `flags`. */
  async function stack(name: string, flags: Record<string, string>): Promise<{ gatehouse: TestApp; sidecar: Sidecar }> {
    const sub = path.join(dir, name);
    const bundle = buildBundle(opa.opa, { 'policy.rego': 'package envoy.authz\n\nallow := true\n' }, `${sub}.tar.gz`, { restrictBuiltins: false });
    const gatehouse = await startTestApp({ bundle, ...flags }, { client: false });
    running.push(gatehouse);
    const serving = issueLeaf(dir, `${name}-server`, ca, 'basicConstraints=critical,CA:FALSE', 'subjectAltName=DNS:localhost');
    const sidecarDir = tempDir(`gatehouse-${name}-`);
    const sidecar = await startSidecar({
      envoy: tool.envoy, dir: sidecarDir, gatehousePort: gatehouse.app.grpcPort, upstreamPort: upstream.port,
      failureModeAllow: false, tls: { cert: serving.cert, key: serving.key, clientCa: ca.cert },
    });
    running.push(sidecar);
    return { gatehouse, sidecar };
  }

  const leaves = () => ({
    valid: issueSvid(dir, 'valid', CHECKOUT, ca),
    twoUris: issueLeaf(dir, 'two-uris', ca, 'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', `subjectAltName=URI:${CHECKOUT},URI:spiffe://mesh.local/ns/shop/sa/admin`),
    ca: issueLeaf(dir, 'ca-leaf', ca, 'basicConstraints=critical,CA:TRUE', 'keyUsage=critical,digitalSignature', `subjectAltName=URI:${CHECKOUT}`),
    certSign: issueLeaf(dir, 'certsign-leaf', ca, 'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyCertSign', `subjectAltName=URI:${CHECKOUT}`),
  });

  it('by default, a leaf breaking the X.509-SVID rules is denied before the (allow-all) policy, naming the rule', async () => {
    const { gatehouse, sidecar } = await stack('default', {});
    const client = leaves();
    const as = (leaf: { cert: string; key: string }) => request(sidecar, { path: '/x', client: { ...leaf, ca: ca.cert } });

    expect((await as(client.valid)).status).toBe(200);
    const cases = [
      [client.twoUris, 'an X.509-SVID has exactly one URI SAN, this certificate has 2'],
      [client.ca, 'a leaf certificate must not be a CA certificate (basicConstraints CA:TRUE)'],
      [client.certSign, 'a leaf certificate must not be able to sign certificates (keyUsage keyCertSign)'],
    ] as const;
    for (const [leaf, rule] of cases) {
      const reply = await as(leaf);
      expect(reply.status).toBe(403);
      await expect.poll(() => sidecar.accessLog().find((line) => line.request_id === reply.requestId)).toBeDefined();
      const access = sidecar.accessLog().find((line) => line.request_id === reply.requestId)!;
      expect(access).toMatchObject({ response_code: 403, reason_code: 'source_certificate_invalid', upstream_host: null });
      const decision = gatehouse.decisions.find((d) => d.decision_id === access.decision_id);
      expect(decision?.gatehouse.reason).toContain(rule);
    }
  });

  it('with invalid_source_certificate: policy, the policy decides (this one allows)', async () => {
    const { gatehouse, sidecar } = await stack('policy', { 'invalid-source-certificate': 'policy' });
    const reply = await request(sidecar, { path: '/x', client: { ...leaves().certSign, ca: ca.cert } });

    expect(reply.status).toBe(200);
    await expect.poll(() => gatehouse.decisions.length).toBeGreaterThan(0);
    const decision = gatehouse.decisions.at(-1)!;
    expect(decision.input.identity.source_certificate).toMatchObject({ valid: false, errors: [expect.stringContaining('keyCertSign')] });
  });
});
