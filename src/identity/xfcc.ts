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
  uri?: string;
  dns: string[];
  /** The `URI` parsed as a SPIFFE ID, when there is one. */
  spiffe?: SpiffeIdentity;
}

export type Xfcc =
  | { trusted: true; elements: XfccElement[] }
  | { trusted: false; reason: string };

const MAX_XFCC_BYTES = 16 * 1024;
const KNOWN_KEYS: Record<string, keyof XfccElement> = { by: 'by', hash: 'hash', subject: 'subject', uri: 'uri', dns: 'dns' };

export function parseXfcc(header: string): XfccElement[] {
  if (header.length > MAX_XFCC_BYTES) throw new Error(`x-forwarded-client-cert is longer than ${MAX_XFCC_BYTES} bytes`);
  const elements: XfccElement[] = [];
  let element: XfccElement = { dns: [] };
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
    const field = KNOWN_KEYS[key];
    if (field === 'dns') element.dns.push(value);
    else if (field) (element as unknown as Record<string, string>)[field] = value;
    const separator = header[i];
    if (separator === undefined) break;
    if (separator !== ';' && separator !== ',') throw new Error(`x-forwarded-client-cert: unexpected "${separator}"`);
    if (separator === ',') {
      elements.push(element);
      element = { dns: [] };
    }
    i++;
    while (header[i] === ' ') i++;
  }
  elements.push(element);
  for (const e of elements) if (e.uri !== undefined) e.spiffe = parseSpiffeId(e.uri);
  return elements;
}
