/** Client certificates on gatehouse's mTLS listener: signing leaves refused, per-trust-domain issuers (real openssl certificates). */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { clientCertificateProblem, type TrustBundles } from '../../src/identity/client-certificate.js';
import { keyUsages, svidViolations } from '../../src/identity/svid-rules.js';
import { createCa, issueLeaf, issueSvid } from '../support/pki.js';

const load = (file: string) => new X509Certificate(readFileSync(file));
let dir: string;
let meshCa: { cert: string; key: string };
let partnerCa: { cert: string; key: string };
let bundles: TrustBundles;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-client-cert-'));
  meshCa = createCa(dir, 'mesh-ca', 'mesh.local');
  partnerCa = createCa(dir, 'partner-ca', 'partner.example');
  bundles = new Map([
    ['mesh.local', [load(meshCa.cert)]],
    ['partner.example', [load(partnerCa.cert)]],
  ]);
});

describe('X.509-SVID signing rules', () => {
  it('reads keyUsage, which node:crypto does not expose', () => {
    expect(keyUsages(load(meshCa.cert))).toEqual(['keyCertSign', 'cRLSign']);
    expect(keyUsages(load(issueSvid(dir, 'svid', 'spiffe://mesh.local/a', meshCa).cert))).toEqual(['digitalSignature', 'keyAgreement']);
    expect(keyUsages(load(issueLeaf(dir, 'no-ku', meshCa, 'basicConstraints=critical,CA:FALSE', 'subjectAltName=URI:spiffe://mesh.local/a').cert))).toEqual([]);
  });

  it.each([
    ['basicConstraints CA:TRUE', ['basicConstraints=critical,CA:TRUE'], 'must not be a CA certificate (basicConstraints CA:TRUE)'],
    // OpenSSL (node's X509Certificate.ca) calls this one "not a CA": its keyUsage lacks keyCertSign.
    ['CA:TRUE and keyUsage digitalSignature only', ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,digitalSignature'], 'must not be a CA certificate (basicConstraints CA:TRUE)'],
    ['keyCertSign without CA:TRUE', ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyCertSign'], 'must not be able to sign certificates (keyUsage keyCertSign)'],
    ['cRLSign', ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,cRLSign'], 'keyUsage cRLSign'],
  ])('a leaf with %s breaks the rules', (name, extensions, message) => {
    const leaf = load(issueLeaf(dir, name.replace(/\W+/g, '-'), meshCa, 'subjectAltName=URI:spiffe://mesh.local/ns/a/sa/b', ...extensions).cert);
    expect(svidViolations(leaf).join('; ')).toContain(message);
    expect(clientCertificateProblem(leaf, undefined)).toContain(message);
  });

  it('a valid SVID breaks none', () => {
    expect(svidViolations(load(issueSvid(dir, 'ok', 'spiffe://mesh.local/ns/a/sa/b', meshCa).cert))).toEqual([]);
  });
});

describe('client certificates and per-trust-domain bundles', () => {
  it('accepts an SVID issued by its own trust domain\'s CA', () => {
    expect(clientCertificateProblem(load(issueSvid(dir, 'mesh-envoy', 'spiffe://mesh.local/ns/mesh/sa/envoy', meshCa).cert), bundles)).toBeUndefined();
    expect(clientCertificateProblem(load(issueSvid(dir, 'partner-envoy', 'spiffe://partner.example/envoy', partnerCa).cert), bundles)).toBeUndefined();
  });

  it('refuses a mesh.local ID issued by the partner CA (another trust domain\'s CA)', () => {
    const forged = load(issueSvid(dir, 'forged', 'spiffe://mesh.local/ns/mesh/sa/envoy', partnerCa).cert);
    expect(clientCertificateProblem(forged, bundles)).toMatch(/^spiffe:\/\/mesh.local\/ns\/mesh\/sa\/envoy was not issued by a CA of its trust domain "mesh.local" \(issuer: .*partner.example CA/);
    // With one flat CA list the same certificate would have passed.
    expect(clientCertificateProblem(forged, undefined)).toBeUndefined();
  });

  it('refuses a trust domain without a bundle, and clients without exactly one SPIFFE URI SAN', () => {
    expect(clientCertificateProblem(load(issueSvid(dir, 'other-td', 'spiffe://other.example/x', meshCa).cert), bundles)).toBe(
      'trust domain "other.example" of spiffe://other.example/x has no bundle in tls_client_trust_bundles',
    );
    expect(clientCertificateProblem(load(issueLeaf(dir, 'dns-only', meshCa, 'basicConstraints=critical,CA:FALSE', 'subjectAltName=DNS:envoy.mesh.local').cert), bundles)).toContain('exactly one URI SAN');
    expect(clientCertificateProblem(load(issueLeaf(dir, 'https-uri', meshCa, 'basicConstraints=critical,CA:FALSE', 'subjectAltName=URI:https://mesh.local/x').cert), bundles)).toContain('is not a SPIFFE ID');
  });
});
