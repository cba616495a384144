/**
 * The caller's leaf certificate, as Envoy forwards it with `include_peer_certificate` (URL-encoded
 * PEM, https://www.envoyproxy.io/docs/envoy/latest/api-v3/service/auth/v3/attribute_context.proto),
 * parsed and checked against the X.509-SVID rules
 * (https://github.com/spiffe/spiffe/blob/main/standards/X509-SVID.md): exactly one URI SAN, not a
 * CA, and that URI SAN equal to `source.principal`. Anything unparseable is reported, never thrown.
 */
import { X509Certificate } from 'node:crypto';

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

  parse(urlEncodedPem: string, principal: string | undefined): PeerCertificate {
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
  if (uris.length !== 1) errors.push(`an X.509-SVID has exactly one URI SAN, this certificate has ${uris.length}`);
  if (cert.ca) errors.push('an X.509-SVID leaf must not be a CA certificate');
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
    is_ca: cert.ca,
  };
}

/**
 * Node renders SANs as `URI:a, DNS:b`, JSON-quoting a value that contains a comma or quote
 * (`URI:"a, b"`), so entries are split outside quotes only.
 */
export function subjectAltNames(text: string | undefined): { uris: string[]; dns: string[] } {
  const uris: string[] = [];
  const dns: string[] = [];
  if (!text) return { uris, dns };
  for (const entry of splitOutsideQuotes(text)) {
    const colon = entry.indexOf(':');
    if (colon === -1) continue;
    const kind = entry.slice(0, colon);
    let value = entry.slice(colon + 1);
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    }
    if (kind === 'URI') uris.push(value);
    else if (kind === 'DNS') dns.push(value);
  }
  return { uris, dns };
}

function splitOutsideQuotes(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted && c === '\\' && i + 1 < text.length) {
      // Inside quotes a backslash escapes the next character, whatever it is.
      current += c + text[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (!quoted && c === ',' && text[i + 1] === ' ') {
      parts.push(current);
      current = '';
      i++;
      continue;
    }
    current += c;
  }
  if (current) parts.push(current);
  return parts;
}

function broken(error: string): PeerCertificate {
  return { valid: false, errors: [error] };
}
