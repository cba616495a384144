/**
 * The pipeline's gate on the caller certificate Envoy forwards (include_peer_certificate): one that
 * breaks the X.509-SVID rules is denied before the policy runs (source_certificate_invalid), with
 * the input kept for the decision log; `invalid_source_certificate: policy` hands it to the policy.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { authorize, type AuthorizeDeps, type EvaluablePolicy } from '../../src/authz/authorize.js';
import { fromProtoJson } from '../../src/authz/proto-json.js';
import { authzProtos } from '../../src/grpc/protos.js';
import { CertificateMemo } from '../../src/identity/peer-certificate.js';
import { createCa, issueLeaf, issueSvid } from '../support/pki.js';
import { tempDir } from '../support/policy.js';

const CHECKOUT = 'spiffe://mesh.local/ns/shop/sa/checkout';

/** A policy that allows everything and counts its evaluations (the gate is what is under test). */
function allowAll(): EvaluablePolicy & { evaluations: number } {
  return {
    revision: 'r', bundle: 'b', digest: 'd', evaluations: 0,
    cachePlan: { enabled: false, why: 'test' },
    evaluate() {
      this.evaluations++;
      return [{ result: true }];
    },
  };
}

describe('the forwarded-certificate gate', () => {
  const protos = authzProtos();
  let good: string;
  let twoUris: string;
  let caLeaf: string;
  beforeAll(() => {
    const dir = tempDir();
    const ca = createCa(dir, 'ca', 'mesh.local');
    good = readFileSync(issueSvid(dir, 'good', CHECKOUT, ca).cert, 'utf8');
    twoUris = readFileSync(issueLeaf(dir, 'two', ca, 'basicConstraints=critical,CA:FALSE', `subjectAltName=URI:${CHECKOUT},URI:spiffe://mesh.local/ns/x/sa/y`).cert, 'utf8');
    caLeaf = readFileSync(issueLeaf(dir, 'ca-leaf', ca, 'basicConstraints=critical,CA:TRUE', `subjectAltName=URI:${CHECKOUT}`).cert, 'utf8');
  });

  const request = (pem: string, principal = CHECKOUT) =>
    protos.encodeCheckRequest(fromProtoJson(protos.CheckRequest, {
      attributes: {
        source: { principal, certificate: encodeURIComponent(pem) },
        request: { http: { method: 'GET', path: '/', headers: { ':method': 'GET', ':path': '/' } } },
      },
    }));
  const deps = (policy: EvaluablePolicy, mode?: 'deny' | 'policy'): AuthorizeDeps => ({
    decode: protos.decodeCheckRequest,
    currentPolicy: () => policy,
    inputOptions: { maxBodyBytes: 1 << 20, xfccTrustedSources: new Set(), certificates: new CertificateMemo() },
    trustDomains: new Set(),
    newDecisionId: () => 'id',
    nowNs: process.hrtime.bigint,
    ...(mode ? { invalidSourceCertificate: mode } : {}),
  });

  it('lets a valid X.509-SVID through to the policy', () => {
    const policy = allowAll();
    expect(authorize(request(good), deps(policy))).toMatchObject({ allowed: true });
    expect(policy.evaluations).toBe(1);
  });

  it.each([
    ['two URI SANs', () => twoUris, CHECKOUT, /exactly one URI SAN/],
    ['a CA certificate', () => caLeaf, CHECKOUT, /CA/],
    ['a URI SAN that is not the principal', () => good, 'spiffe://mesh.local/ns/shop/sa/other', /does not equal source.principal/],
    ['garbage instead of a certificate', () => 'not a certificate', CHECKOUT, /./],
  ])('denies %s by default, before the policy, keeping the input', (_name, pem, principal, why) => {
    const policy = allowAll();
    const outcome = authorize(request(pem(), principal), deps(policy));
    expect(outcome).toMatchObject({ allowed: false, reasonLabel: 'source_certificate_invalid', httpStatus: 403 });
    expect(outcome.reason).toMatch(why);
    expect(outcome.input?.identity.source_certificate?.valid).toBe(false);
    expect(policy.evaluations).toBe(0);
  });

  it('hands it to the policy with invalid_source_certificate: policy', () => {
    const policy = allowAll();
    const outcome = authorize(request(twoUris), deps(policy, 'policy'));
    expect(outcome.allowed).toBe(true);
    expect(outcome.input?.identity.source_certificate?.valid).toBe(false);
    expect(policy.evaluations).toBe(1);
  });
});
