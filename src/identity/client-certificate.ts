/**
 * The client certificate on gatehouse's own mTLS listener (normally an Envoy's SVID), judged once
 * per certificate. The TLS handshake has already checked that its chain ends at a trusted CA;
 * that says nothing about which trust domain the CA speaks for, nor about the leaf itself:
 *
 * - a leaf that is a CA or may sign certificates (basicConstraints CA:TRUE, keyUsage keyCertSign or
 *   cRLSign) is refused: it could mint identities of its own (X.509-SVID section 4);
 * - with per-trust-domain bundles (`tls_client_trust_bundles`), the client must carry exactly one
 *   URI SAN, a SPIFFE ID, and its leaf must be issued by a certificate in *its own* trust domain's
 *   bundle (the SPIFFE trust bundle model, https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE_Trust_Domain_and_Bundle.md),
 *   so one trust domain's CA cannot vouch for another's IDs.
 */
import type { X509Certificate } from 'node:crypto';
import { parseSpiffeId } from './spiffe.js';
import { subjectAltNames } from './subject-alt-names.js';
import { signingViolations } from './svid-rules.js';

/** Trust domain → the certificates allowed to issue its SVIDs (its CA, and any intermediates). */
export type TrustBundles = ReadonlyMap<string, readonly X509Certificate[]>;

/** Why the client certificate is refused, naming the rule; undefined when it is acceptable. */
export function clientCertificateProblem(leaf: X509Certificate, bundles: TrustBundles | undefined): string | undefined {
  const signing = signingViolations(leaf);
  if (signing.length > 0) return signing.join('; ');
  if (!bundles || bundles.size === 0) return undefined;
  const { uris } = subjectAltNames(leaf.subjectAltName);
  if (uris.length !== 1) return `with tls_client_trust_bundles, a client certificate needs exactly one URI SAN (a SPIFFE ID), this one has ${uris.length}`;
  const id = parseSpiffeId(uris[0]!);
  if (!id.valid) return `the client's URI SAN ${JSON.stringify(uris[0])} is not a SPIFFE ID (${id.error})`;
  const issuers = bundles.get(id.trust_domain);
  if (!issuers) return `trust domain "${id.trust_domain}" of ${id.spiffe_id} has no bundle in tls_client_trust_bundles`;
  // checkIssued compares names and key identifiers; verify checks the signature itself.
  if (!issuers.some((issuer) => leaf.checkIssued(issuer) && leaf.verify(issuer.publicKey))) {
    return `${id.spiffe_id} was not issued by a CA of its trust domain "${id.trust_domain}" (issuer: ${leaf.issuer.split('\n').join(', ')})`;
  }
  return undefined;
}
