/**
 * Strict SPIFFE ID parsing, per the SPIFFE ID standard
 * (https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md): `spiffe://` scheme, a
 * lower-case trust domain of [a-z0-9._-], path segments of [A-Za-z0-9._-] with no empty, `.` or
 * `..` segment and no trailing `/`, no query, fragment, port or userinfo, at most 2048 bytes.
 * IDs are compared exactly; nothing here matches by prefix or regex on the raw string.
 */

export type SpiffeIdentity =
  | {
      valid: true;
      spiffe_id: string;
      trust_domain: string;
      path: string;
      segments: string[];
      /** Istio-style `/ns/<namespace>/sa/<service account>` paths only. */
      namespace?: string;
      service_account?: string;
    }
  | { valid: false; error: string };

const MAX_ID_BYTES = 2048;
const SCHEME = 'spiffe://';
const TRUST_DOMAIN_CHAR = /^[a-z0-9._-]+$/;
const SEGMENT_CHAR = /^[A-Za-z0-9._-]+$/;

export function parseSpiffeId(text: string): SpiffeIdentity {
  if (text.length === 0) return invalid('empty');
  if (Buffer.byteLength(text, 'utf8') > MAX_ID_BYTES) return invalid(`longer than ${MAX_ID_BYTES} bytes`);
  if (!text.startsWith(SCHEME)) return invalid('scheme is not spiffe://');
  const rest = text.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);

  if (trustDomain === '') return invalid('trust domain is empty');
  if (!TRUST_DOMAIN_CHAR.test(trustDomain)) {
    if (trustDomain.includes('@')) return invalid('userinfo is not allowed');
    if (trustDomain.includes(':')) return invalid('a port is not allowed');
    if (/[A-Z]/.test(trustDomain)) return invalid('trust domain must be lower-case');
    return invalid('trust domain contains a character outside [a-z0-9._-]');
  }

  const segments: string[] = [];
  if (path !== '') {
    for (const segment of path.slice(1).split('/')) {
      if (segment === '') return invalid(path.endsWith('/') ? 'trailing "/" in path' : 'empty path segment');
      if (segment === '.' || segment === '..') return invalid(`"${segment}" path segment`);
      if (!SEGMENT_CHAR.test(segment)) {
        if (segment.includes('?')) return invalid('a query is not allowed');
        if (segment.includes('#')) return invalid('a fragment is not allowed');
        if (segment.includes('%')) return invalid('percent-encoding is not allowed');
        return invalid('path segment contains a character outside [A-Za-z0-9._-]');
      }
      segments.push(segment);
    }
  }

  const identity: SpiffeIdentity = { valid: true, spiffe_id: text, trust_domain: trustDomain, path, segments };
  if (segments.length === 4 && segments[0] === 'ns' && segments[2] === 'sa') {
    identity.namespace = segments[1];
    identity.service_account = segments[3];
  }
  return identity;
}

function invalid(error: string): SpiffeIdentity {
  return { valid: false, error };
}
