/**
 * `x-forwarded-client-cert` (https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers#x-forwarded-client-cert):
 * set by a proxy that terminated the client's mTLS. Anyone can send the header, so it is only
 * parsed when the Check's source is a hop the operator trusts (`xfcc_trusted_sources`).
 *
 * Format: elements separated by `,` (one per hop), each a `;`-separated list of `Key=value`, a
 * value double-quoted when it contains `,`, `;` or `=`, with `\"` inside quotes.
 */
import { parseSpiffeId, type SpiffeIdentity } from './spiffe.js';

export interface XfccElement {
  by?: string;
  hash?: string;
  subject?: string;
  /** The URI SAN, when the element has exactly one (Envoy writes one `URI=` per URI SAN). */
  uri?: string;
  uris: string[];
  dns: string[];
  /** The URI SAN parsed as a SPIFFE ID; invalid unless there is exactly one URI SAN. */
  spiffe?: SpiffeIdentity;
}

/**
 * `client` is the last element: the one the trusted hop itself appended for the client it
 * authenticated. Earlier `elements` were forwarded by that hop from further away (APPEND_FORWARD)
 * and are only as trustworthy as whoever sent them to it.
 */
export type Xfcc =
  | { trusted: true; client: XfccElement; elements: XfccElement[] }
  | { trusted: false; reason: string };

const MAX_XFCC_BYTES = 16 * 1024;
const KNOWN_KEYS: Record<string, keyof XfccElement> = { by: 'by', hash: 'hash', subject: 'subject', uri: 'uri', dns: 'dns' };

export function parseXfcc(header: string): XfccElement[] {
  if (header.length > MAX_XFCC_BYTES) throw new Error(`x-forwarded-client-cert is longer than ${MAX_XFCC_BYTES} bytes`);
  const elements: XfccElement[] = [];
  let element: XfccElement = { uris: [], dns: [] };
  let i = 0;
  while (i <= header.length) {
    // key
    const eq = header.indexOf('=', i);
    if (eq === -1) throw new Error('x-forwarded-client-cert: a pair without "="');
    const key = header.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    // value
    let value = '';
    if (header[i] === '"') {
      i++;
      while (i < header.length && header[i] !== '"') {
        if (header[i] === '\\' && i + 1 < header.length) i++;
        value += header[i];
        i++;
      }
      if (header[i] !== '"') throw new Error('x-forwarded-client-cert: unterminated quoted value');
      i++;
    } else {
      while (i < header.length && header[i] !== ';' && header[i] !== ',') value += header[i++];
    }
    const field = Object.hasOwn(KNOWN_KEYS, key) ? KNOWN_KEYS[key] : undefined;
    if (field === 'dns') element.dns.push(value);
    else if (field === 'uri') element.uris.push(value);
    else if (field) (element as unknown as Record<string, string>)[field] = value;
    const separator = header[i];
    if (separator === undefined) break;
    if (separator !== ';' && separator !== ',') throw new Error(`x-forwarded-client-cert: unexpected "${separator}"`);
    if (separator === ',') {
      elements.push(element);
      element = { uris: [], dns: [] };
    }
    i++;
    while (header[i] === ' ') i++;
  }
  elements.push(element);
  for (const e of elements) {
    if (e.uris.length === 1) {
      e.uri = e.uris[0];
      e.spiffe = parseSpiffeId(e.uris[0]!);
    } else if (e.uris.length > 1) {
      e.spiffe = { valid: false, error: `the client certificate has ${e.uris.length} URI SANs; an X.509-SVID has exactly one` };
    }
  }
  return elements;
}
