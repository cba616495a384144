/**
 * The caller's leaf certificate, as Envoy forwards it with `include_peer_certificate` (URL-encoded
 * PEM, https://www.envoyproxy.io/docs/envoy/latest/api-v3/service/auth/v3/attribute_context.proto),
 * parsed and checked against the X.509-SVID rules (identity/svid-rules.ts) and against
 * `source.principal` (its URI SAN must equal it). Anything unparseable is reported, never thrown;
 * only a CertificateMemo told to deny throws, to deny the Check.
 */
import { X509Certificate } from 'node:crypto';
import { subjectAltNames } from './subject-alt-names.js';
import { isCa, svidViolations } from './svid-rules.js';

export interface PeerCertificate {
  /** True when the certificate parsed and satisfies every X.509-SVID rule checked here. */
  valid: boolean;
  /** Why it is not a valid SVID (empty when valid). */
  errors: string[];
  subject?: string;
  issuer?: string;
  serial_number?: string;
  not_before?: string;
  not_after?: string;
  uri_sans?: string[];
  dns_sans?: string[];
  sha256_fingerprint?: string;
  is_ca?: boolean;
}

const PEM_BEGIN = '-----BEGIN CERTIFICATE-----';
const MAX_PEM_BYTES = 64 * 1024;

/**
 * Parsed certificates by their URL-encoded PEM. Envoy sends the same few certificates over and over
 * (one per calling workload), and X.509 parsing costs far more than the rest of a Check, so each
 * app keeps a small bounded memo. Only the principal comparison is done per Check.
 */
export class CertificateMemo {
  readonly #entries = new Map<string, PeerCertificate>();
  readonly #maxEntries: number;
  readonly #maxChars: number;
  #chars = 0;

  constructor(maxEntries = 1024, maxChars = 8 * 1024 * 1024) {
    this.#maxEntries = maxEntries;
    this.#maxChars = maxChars;
  }

  /** The parsed certificate, checked against `principal` (never throws; problems are in `errors`). */
  parse(urlEncodedPem: string, principal: string | undefined): PeerCertificate {
    return this.#parse(urlEncodedPem, principal);
  }

  #parse(urlEncodedPem: string, principal: string | undefined): PeerCertificate {
    let parsed = this.#entries.get(urlEncodedPem);
    if (parsed === undefined) {
      parsed = parseCertificate(urlEncodedPem);
      // Only certificates that parsed are kept (garbage is not worth remembering), within an entry
      // and a size bound; when full, start over (it refills from live traffic).
      if (parsed.subject !== undefined && urlEncodedPem.length <= MAX_PEM_BYTES * 3) {
        if (this.#entries.size >= this.#maxEntries || this.#chars + urlEncodedPem.length > this.#maxChars) {
          this.#entries.clear();
          this.#chars = 0;
        }
        this.#entries.set(urlEncodedPem, parsed);
        this.#chars += urlEncodedPem.length;
      }
    }
    return withPrincipalCheck(parsed, principal);
  }
}

export function parsePeerCertificate(urlEncodedPem: string, principal: string | undefined): PeerCertificate {
  return withPrincipalCheck(parseCertificate(urlEncodedPem), principal);
}

function withPrincipalCheck(parsed: PeerCertificate, principal: string | undefined): PeerCertificate {
  const uris = parsed.uri_sans;
  if (uris?.length !== 1 || principal === undefined || uris[0] === principal) return parsed;
  const errors = [...parsed.errors, 'the URI SAN does not equal source.principal'];
  return { ...parsed, valid: false, errors };
}

function parseCertificate(urlEncodedPem: string): PeerCertificate {
  if (urlEncodedPem.length > MAX_PEM_BYTES * 3) return broken(`certificate is larger than ${MAX_PEM_BYTES} bytes`);
  let pem: string;
  try {
    pem = decodeURIComponent(urlEncodedPem);
  } catch {
    return broken('certificate is not valid URL-encoded PEM');
  }
  const count = pem.split(PEM_BEGIN).length - 1;
  if (count === 0) return broken('no PEM certificate found');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (error) {
    return broken(`certificate does not parse: ${(error as Error).message}`);
  }
  const { uris, dns } = subjectAltNames(cert.subjectAltName);
  const errors: string[] = [];
  if (count > 1) errors.push(`expected the leaf certificate only, got a chain of ${count}`);
  errors.push(...svidViolations(cert));
  return {
    valid: errors.length === 0,
    errors,
    subject: cert.subject.split('\n').join(', '),
    issuer: cert.issuer.split('\n').join(', '),
    serial_number: cert.serialNumber.toLowerCase(),
    not_before: new Date(cert.validFrom).toISOString(),
    not_after: new Date(cert.validTo).toISOString(),
    uri_sans: uris,
    dns_sans: dns,
    sha256_fingerprint: cert.fingerprint256.replaceAll(':', '').toLowerCase(),
    is_ca: caFlag(cert),
  };
}

/** basicConstraints cA (node's `ca` misses CA:TRUE without keyCertSign); node's answer if it does not parse. */
function caFlag(cert: X509Certificate): boolean {
  try {
    return isCa(cert);
  } catch {
    return cert.ca;
  }
}

function broken(error: string): PeerCertificate {
  return { valid: false, errors: [error] };
}
