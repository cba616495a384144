/**
 * gatehouse's own listener over TLS and mTLS (with certificate rotation), the client allow-list,
 * the trust-domain allow-list, and a unix socket listener. Real certificates from openssl.
 */
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestApp, type TestApp } from '../support/app.js';
import { TestClient } from '../support/grpc-client.js';
import { createCa, issueLeaf, issueSvid, type Ca } from '../support/pki.js';
import { buildExampleBundle, tempDir } from '../support/policy.js';
import { CHECKOUT, checkRequestJson } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
const INVENTORY_ENVOY = 'spiffe://mesh.local/ns/shop/sa/inventory';
const SERVER_SANS = 'subjectAltName=URI:spiffe://mesh.local/ns/gatehouse/sa/gatehouse,DNS:localhost,IP:127.0.0.1';

describe.skipIf(tool.skip)('TLS and mTLS on the gRPC listener', () => {
  let dir: string;
  let ca: Ca;
  let bundle: string;
  let server: { cert: string; key: string };

  beforeAll(() => {
    dir = tempDir('gatehouse-tls-');
    ca = createCa(dir, 'mesh-ca', 'mesh.local');
    server = issueLeaf(dir, 'server', ca, SERVER_SANS, 'basicConstraints=critical,CA:FALSE');
    bundle = buildExampleBundle(tool.opa, dir);
  });

  const mtlsClient = (port: number, cert?: { cert: string; key: string }) =>
    new TestClient(
      `127.0.0.1:${port}`,
      credentials.createSsl(readFileSync(ca.cert), cert ? readFileSync(cert.key) : null, cert ? readFileSync(cert.cert) : null),
    );

  describe('mTLS with an allow-list of callers', () => {
    let t: TestApp;
    beforeAll(async () => {
      const serving = path.join(dir, 'serving');
      copyFileSync(server.cert, `${serving}.crt`);
      copyFileSync(server.key, `${serving}.key`);
      t = await startTestApp(
        {
          bundle,
          'tls-cert-file': `${serving}.crt`,
          'tls-key-file': `${serving}.key`,
          'tls-client-ca-file': ca.cert,
          'tls-allowed-clients': INVENTORY_ENVOY,
          'tls-reload-interval-ms': '200',
        },
        { client: false },
      );
    });
    afterAll(async () => t?.stop());

    it('answers an allowed client', async () => {
      const client = mtlsClient(t.app.grpcPort, issueSvid(dir, 'inventory-envoy', INVENTORY_ENVOY, ca));
      const reply = await client.check(checkRequestJson({ source: CHECKOUT }));
      client.close();
      expect(reply.allowed).toBe(true);
    });

    it('denies (client_not_allowed) a mesh client that is not on the list', async () => {
      const client = mtlsClient(t.app.grpcPort, issueSvid(dir, 'rogue', 'spiffe://mesh.local/ns/shop/sa/rogue', ca));
      const reply = await client.check(checkRequestJson({ source: CHECKOUT }));
      client.close();
      expect(reply).toMatchObject({ allowed: false, httpStatus: 403, metadata: { reason_code: 'client_not_allowed' } });
    });

    it('refuses a client without a certificate, and a plaintext client, at the transport', async () => {
      const noCert = mtlsClient(t.app.grpcPort);
      await expect(noCert.check(checkRequestJson({ source: CHECKOUT }))).rejects.toThrow();
      noCert.close();
      const plaintext = new TestClient(`127.0.0.1:${t.app.grpcPort}`);
      await expect(plaintext.check(checkRequestJson({ source: CHECKOUT }))).rejects.toThrow();
      plaintext.close();
    });

    it('reports seconds until the serving certificate expires', async () => {
      const match = /^gatehouse_tls_certificate_expiry_seconds (\S+)$/m.exec((await t.admin('/metrics')).text);
      expect(Number(match?.[1])).toBeGreaterThan(3600);
      expect(Number(match?.[1])).toBeLessThan(2 * 86400);
    });

    it('rotates the serving certificate without a restart, keeps connections, and rejects a broken set', async () => {
      const serving = path.join(dir, 'serving');
      const client = mtlsClient(t.app.grpcPort, issueSvid(dir, 'inventory-envoy-2', INVENTORY_ENVOY, ca));
      expect((await client.check(checkRequestJson({ source: CHECKOUT }))).allowed).toBe(true);
      const before = await servedSerial(t.app.grpcPort, ca);

      const next = issueLeaf(dir, 'server-next', ca, SERVER_SANS);
      // Replace the pair atomically (key first; the provider validates that they match).
      copyFileSync(next.key, `${serving}.key.tmp`);
      copyFileSync(next.cert, `${serving}.crt.tmp`);
      renameSync(`${serving}.key.tmp`, `${serving}.key`);
      renameSync(`${serving}.crt.tmp`, `${serving}.crt`);
      await eventually(async () => (await servedSerial(t.app.grpcPort, ca)) !== before);
      expect(t.logs.some((l) => l.msg === 'serving certificate rotated')).toBe(true);
      // The connection opened before the rotation still works.
      expect((await client.check(checkRequestJson({ source: CHECKOUT }))).allowed).toBe(true);

      const rotated = await servedSerial(t.app.grpcPort, ca);
      writeFileSync(`${serving}.crt`, 'garbage');
      await eventually(() => t.logs.some((l) => l.msg === 'new TLS files rejected; the previous certificate keeps serving'));
      expect(await servedSerial(t.app.grpcPort, ca)).toBe(rotated);
      expect((await t.admin('/metrics')).text).toMatch(/gatehouse_tls_reloads_total\{result="failed"\} [1-9]/);
      client.close();
    });
  });

  it('fails start-up naming the key when the key does not match the certificate', async () => {
    const other = issueLeaf(dir, 'other', ca, SERVER_SANS);
    await expect(
      startTestApp({ bundle, 'tls-cert-file': server.cert, 'tls-key-file': other.key }, { client: false }),
    ).rejects.toThrow(/tls_key_file .* does not match tls_cert_file/);
  });
});

describe.skipIf(tool.skip)('trust domains and listeners', () => {
  it('denies a source outside trust_domains before evaluating the policy', async () => {
    const dir = tempDir();
    const t = await startTestApp({ bundle: buildExampleBundle(tool.opa, dir), 'trust-domains': 'mesh.local' });
    try {
      const foreign = await t.client.check(checkRequestJson({ source: 'spiffe://evil.example/ns/shop/sa/checkout' }));
      expect(foreign).toMatchObject({ allowed: false, httpStatus: 403, metadata: { reason_code: 'untrusted_trust_domain' } });
      const none = await t.client.check(checkRequestJson({}));
      expect(none.metadata.reason_code).toBe('untrusted_trust_domain');
      expect((await t.client.check(checkRequestJson({ source: CHECKOUT }))).allowed).toBe(true);
    } finally {
      await t.stop();
    }
  });

  it('serves on a unix domain socket', async () => {
    const dir = tempDir();
    const socket = path.join(dir, 'gatehouse.sock');
    const t = await startTestApp({ bundle: buildExampleBundle(tool.opa, dir), addr: `unix://${socket}` }, { client: new TestClient(`unix://${socket}`) });
    try {
      expect((await t.client.check(checkRequestJson({ source: CHECKOUT }))).allowed).toBe(true);
    } finally {
      await t.stop();
    }
  });
});

/** The serial number of the certificate a new TLS handshake gets. */
function servedSerial(port: number, ca: Ca): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: readFileSync(ca.cert), servername: 'localhost', ALPNProtocols: ['h2'], rejectUnauthorized: false }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.destroy();
      resolve(serial);
    });
    socket.on('error', reject);
  });
}
