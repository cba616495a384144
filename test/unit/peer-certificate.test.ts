import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CertificateMemo, parsePeerCertificate } from '../../src/identity/peer-certificate.js';
import { subjectAltNames } from '../../src/identity/subject-alt-names.js';
import { createCa, issueLeaf, issueSvid } from '../support/pki.js';
import { tempDir } from '../support/policy.js';

const CHECKOUT = 'spiffe://mesh.local/ns/shop/sa/checkout';
let dir: string;
let ca: { cert: string; key: string };
const urlPem = (file: string) => encodeURIComponent(readFileSync(file, 'utf8'));

/** A leaf with arbitrary extensions, for the shapes an X.509-SVID must not have. */
const oddLeaf = (name: string, ...extensions: string[]) => issueLeaf(dir, name, ca, ...extensions).cert;

beforeAll(() => {
  dir = tempDir('gatehouse-pki-');
  ca = createCa(dir, 'ca', 'mesh.local');
});

describe('peer certificate parsing and X.509-SVID checks', () => {
  it('parses a valid SVID whose URI SAN equals the principal', () => {
    const svid = issueSvid(dir, 'checkout', CHECKOUT, ca);
    const parsed = parsePeerCertificate(urlPem(svid.cert), CHECKOUT);
    expect(parsed).toMatchObject({ valid: true, errors: [], uri_sans: [CHECKOUT], dns_sans: [], is_ca: false, issuer: expect.stringContaining('mesh.local CA') });
    expect(parsed.sha256_fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(Date.parse(parsed.not_after!)).toBeGreaterThan(Date.parse(parsed.not_before!));
  });

  it('flags a URI SAN that differs from the principal', () => {
    const svid = issueSvid(dir, 'other', 'spiffe://mesh.local/ns/shop/sa/other', ca);
    expect(parsePeerCertificate(urlPem(svid.cert), CHECKOUT).errors).toEqual(['the URI SAN does not equal source.principal']);
  });

  it.each([
    ['two URI SANs', ['subjectAltName=URI:spiffe://mesh.local/a,URI:spiffe://mesh.local/b'], 'exactly one URI SAN, this certificate has 2'],
    ['no URI SAN', ['subjectAltName=DNS:checkout.shop.svc'], 'exactly one URI SAN, this certificate has 0'],
    ['a CA certificate', ['basicConstraints=critical,CA:TRUE', 'subjectAltName=URI:spiffe://mesh.local/ns/shop/sa/checkout'], 'must not be a CA'],
    ['a certificate signer', ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyCertSign', 'subjectAltName=URI:spiffe://mesh.local/ns/shop/sa/checkout'], 'must not be able to sign certificates (keyUsage keyCertSign)'],
  ])('rejects %s', (name, extensions, message) => {
    const cert = oddLeaf(name.replaceAll(' ', '-'), ...extensions);
    const parsed = parsePeerCertificate(urlPem(cert), CHECKOUT);
    expect(parsed.valid).toBe(false);
    expect(parsed.errors.join('; ')).toContain(message);
  });

  it('rejects a chain instead of a leaf', () => {
    const svid = issueSvid(dir, 'chained', CHECKOUT, ca);
    const chain = readFileSync(svid.cert, 'utf8') + readFileSync(ca.cert, 'utf8');
    expect(parsePeerCertificate(encodeURIComponent(chain), CHECKOUT).errors).toContain('expected the leaf certificate only, got a chain of 2');
  });

  it.each([
    ['garbage', 'not a certificate', 'no PEM certificate found'],
    ['truncated PEM', encodeURIComponent('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'), 'does not parse'],
    ['bad URL encoding', '%E0%A4%A', 'not valid URL-encoded PEM'],
  ])('reports %s without throwing', (_name, text, message) => {
    const parsed = parsePeerCertificate(text, CHECKOUT);
    expect(parsed.valid).toBe(false);
    expect(parsed.errors[0]).toContain(message);
  });

  it('memoises parsing but checks the principal on every call', () => {
    const svid = issueSvid(dir, 'memo', CHECKOUT, ca);
    const memo = new CertificateMemo(2);
    expect(memo.parse(urlPem(svid.cert), CHECKOUT).valid).toBe(true);
    expect(memo.parse(urlPem(svid.cert), 'spiffe://mesh.local/ns/shop/sa/other')).toMatchObject({ valid: false, errors: ['the URI SAN does not equal source.principal'] });
    expect(memo.parse(urlPem(svid.cert), CHECKOUT)).toMatchObject({ valid: true, errors: [] });
  });

  it('splits SANs outside quotes', () => {
    expect(subjectAltNames('URI:spiffe://a/b, DNS:x.example, DNS:"weird, name"')).toEqual({ uris: ['spiffe://a/b'], dns: ['x.example', 'weird, name'] });
    // A quoted value ending in an escaped backslash must not swallow the SANs after it.
    expect(subjectAltNames('URI:spiffe://td/allowed, DNS:"x\\\\", URI:spiffe://td/other')).toEqual({ uris: ['spiffe://td/allowed', 'spiffe://td/other'], dns: ['x\\'] });
  });
});
