/**
 * Client certificates on gatehouse's own mTLS listener: a leaf that is a CA or can sign
 * certificates is denied (client_certificate_invalid), and with tls_client_trust_bundles a SPIFFE
 * ID must be issued by its own trust domain's CA. Real openssl certificates, real grpc-js TLS.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { TestClient } from '../support/grpc-client.js';
import { createCa, issueLeaf, issueSvid, type Ca } from '../support/pki.js';
import { buildExampleBundle, tempDir } from '../support/policy.js';
import { CHECKOUT, checkRequestJson } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
const MESH_ENVOY = 'spiffe://mesh.local/ns/shop/sa/inventory';
const PARTNER_ENVOY = 'spiffe://partner.example/ns/edge/sa/envoy';

describe.skipIf(tool.skip)('client certificates on the mTLS listener', () => {
  let dir: string;
  let meshCa: Ca;
  let partnerCa: Ca;
  let bundle: string;
  let server: { cert: string; key: string };

  beforeAll(() => {
    dir = tempDir('gatehouse-mtls-clients-');
    meshCa = createCa(dir, 'mesh-ca', 'mesh.local');
    partnerCa = createCa(dir, 'partner-ca', 'partner.example');
    server = issueLeaf(dir, 'server', meshCa, 'subjectAltName=DNS:localhost,IP:127.0.0.1', 'basicConstraints=critical,CA:FALSE');
    bundle = buildExampleBundle(tool.opa, dir);
  });

  /** One Check from a client presenting `cert`; resolves to the reply and its decision-log line. */
  async function checkAs(t: TestApp, cert: { cert: string; key: string }) {
    const client = new TestClient(`127.0.0.1:${t.app.grpcPort}`, credentials.createSsl(readFileSync(meshCa.cert), readFileSync(cert.key), readFileSync(cert.cert)));
    try {
      const reply = await client.check(checkRequestJson({ source: CHECKOUT }));
      await expect.poll(() => t.decisions.some((d) => d.decision_id === reply.metadata.decision_id)).toBe(true);
      return { reply, logged: t.decisions.find((d) => d.decision_id === reply.metadata.decision_id)! };
    } finally {
      client.close();
    }
  }

  const signingLeaves = () => ({
    ca: issueLeaf(dir, 'leaf-ca', meshCa, `subjectAltName=URI:${MESH_ENVOY}`, 'basicConstraints=critical,CA:TRUE', 'keyUsage=critical,digitalSignature'),
    certSign: issueLeaf(dir, 'leaf-certsign', meshCa, `subjectAltName=URI:${MESH_ENVOY}`, 'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyCertSign'),
  });

  describe('with tls_client_trust_bundles', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp(
        { bundle, 'tls-cert-file': server.cert, 'tls-key-file': server.key, 'tls-client-trust-bundles': `mesh.local=${meshCa.cert},partner.example=${partnerCa.cert}` },
        { client: false },
      );
    });
    afterAll(async () => t?.stop());

    it('answers clients issued by their own trust domain\'s CA', async () => {
      expect((await checkAs(t, issueSvid(dir, 'mesh-envoy', MESH_ENVOY, meshCa))).reply.allowed).toBe(true);
      expect((await checkAs(t, issueSvid(dir, 'partner-envoy', PARTNER_ENVOY, partnerCa))).reply.allowed).toBe(true);
    });

    it('denies a mesh.local ID issued by the partner.example CA, naming the rule', async () => {
      const { reply, logged } = await checkAs(t, issueSvid(dir, 'forged-envoy', MESH_ENVOY, partnerCa));

      expect(reply).toMatchObject({ allowed: false, httpStatus: 403, metadata: { reason_code: 'client_certificate_invalid' } });
      expect(logged.gatehouse.reason).toMatch(`${MESH_ENVOY} was not issued by a CA of its trust domain "mesh.local"`);
    });

    it('denies a client leaf that is a CA, or that can sign certificates', async () => {
      const leaves = signingLeaves();
      const ca = await checkAs(t, leaves.ca);
      expect(ca.reply.metadata.reason_code).toBe('client_certificate_invalid');
      expect(ca.logged.gatehouse.reason).toContain('must not be a CA certificate (basicConstraints CA:TRUE)');
      const certSign = await checkAs(t, leaves.certSign);
      expect(certSign.reply.metadata.reason_code).toBe('client_certificate_invalid');
      expect(certSign.logged.gatehouse.reason).toContain('must not be able to sign certificates (keyUsage keyCertSign)');
    });
  });

  describe('with one flat tls_client_ca_file', () => {
    let t: TestApp;
    beforeAll(async () => {
      const both = path.join(dir, 'both-cas.pem');
      writeFileSync(both, readFileSync(meshCa.cert, 'utf8') + readFileSync(partnerCa.cert, 'utf8'));
      t = await startTestApp({ bundle, 'tls-cert-file': server.cert, 'tls-key-file': server.key, 'tls-client-ca-file': both }, { client: false });
    });
    afterAll(async () => t?.stop());

    it('still denies signing leaves', async () => {
      const leaves = signingLeaves();
      expect((await checkAs(t, leaves.ca)).reply.metadata.reason_code).toBe('client_certificate_invalid');
      expect((await checkAs(t, leaves.certSign)).reply.metadata.reason_code).toBe('client_certificate_invalid');
      expect((await checkAs(t, issueSvid(dir, 'flat-envoy', MESH_ENVOY, meshCa))).reply.allowed).toBe(true);
    });
  });

  it.each([
    [{ 'tls-client-ca-file': '/x/ca.pem', 'tls-client-trust-bundles': 'mesh.local=/x/ca.pem' }, 'tls_client_ca_file and tls_client_trust_bundles cannot both be set'],
    [{ 'tls-client-trust-bundles': 'mesh.local=/x/a.pem,mesh.local=/x/b.pem' }, 'names trust domain "mesh.local" twice'],
    [{ 'tls-client-trust-bundles': 'mesh.local' }, 'tls_client_trust_bundles (flag --tls-client-trust-bundles) has "mesh.local", which is not trust.domain=/path/to/ca.pem'],
    [{ 'tls-client-trust-bundles': 'Mesh.Local=/x/a.pem' }, 'not a trust domain'],
  ])('start-up refuses %j', (flags, message) => {
    expect(() => loadConfig({ flags: { bundle: 'b.tar.gz', 'tls-cert-file': '/x/c', 'tls-key-file': '/x/k', ...flags }, env: {} })).toThrow(message);
  });

  it('start-up refuses trust bundles without TLS, and a bundle file holding a leaf', async () => {
    expect(() => loadConfig({ flags: { bundle: 'b.tar.gz', 'tls-client-trust-bundles': 'mesh.local=/x/a.pem' }, env: {} })).toThrow('tls_client_trust_bundles requires TLS');
    const leaf = issueSvid(dir, 'not-a-ca', MESH_ENVOY, meshCa);
    await expect(startTestApp({ bundle, 'tls-cert-file': server.cert, 'tls-key-file': server.key, 'tls-client-trust-bundles': `mesh.local=${leaf.cert}` }, { client: false })).rejects.toThrow(
      /tls_client_trust_bundles: .*not-a-ca.crt \(trust domain mesh.local\) holds .*, which is not a CA certificate/,
    );
  });
});
