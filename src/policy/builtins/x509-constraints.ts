/**
 * Name constraints over a verified chain (RFC 5280 §4.2.1.10) as go1.26's crypto/x509
 * checkChainConstraints applies them: every certificate carrying a SAN extension is checked
 * against the constraints of each CA above it — IP SANs against IP ranges, DNS SANs against DNS
 * domains (a wildcard SAN against the parents of excluded names), URI SANs by host, e-mail SANs by
 * mailbox or domain. A certificate without SANs (its CN) is not checked, as in Go.
 */
import type { RegoValue } from './types.js';
import type { ParsedCertificate } from './x509-cert.js';
import { domainNameValid, ipBytes } from './x509-url.js';

const NAME_CONSTRAINTS = '2.5.29.30';
const SUBJECT_ALT_NAME = '2.5.29.17';

const strings = (cert: ParsedCertificate, field: string): string[] => (cert.json[field] as string[] | null) ?? [];

function hasExtension(cert: ParsedCertificate, id: string): boolean {
  return ((cert.json.Extensions as { Id: number[] }[] | null) ?? []).some((ext) => ext.Id.join('.') === id);
}

/** dnsHasSuffix(constraint, name): a case-insensitive suffix on a label boundary. */
function dnsHasSuffix(constraint: string, name: string): boolean {
  if (constraint.length > name.length) return false;
  if (name.slice(name.length - constraint.length).toLowerCase() !== constraint.toLowerCase()) return false;
  return constraint.startsWith('.') || name.length === constraint.length || name[name.length - constraint.length - 1] === '.';
}

function trimFirstLabel(name: string): string {
  const dot = name.indexOf('.');
  return dot < 0 ? '' : name.slice(dot);
}

/** A DNS-domain constraint list (newDNSConstraints/query): does any constraint cover `name`? */
function dnsMatches(constraints: string[], name: string, permitted: boolean): boolean {
  if (constraints.some((c) => c.length === 0)) return true;
  if (constraints.some((c) => dnsHasSuffix(c, name))) return true;
  if (!permitted && name.startsWith('*')) {
    const parent = trimFirstLabel(name.toLowerCase());
    return constraints.some((c) => trimFirstLabel(c.toLowerCase()) === parent && parent !== '');
  }
  return false;
}

function ipInRange(ip: Buffer, range: { IP: string; Mask: string }): boolean {
  const network = ipBytes(range.IP);
  const mask = Buffer.from(range.Mask, 'base64');
  if (network.length !== ip.length || mask.length !== ip.length) return false;
  return ip.every((b, i) => (b & mask[i]!) === (network[i]! & mask[i]!));
}

interface Mailbox {
  local: string;
  domain: string;
}

/** parseRFC2821Mailbox for unquoted local parts (dot-atoms); undefined when Go would fail. */
export function parseMailbox(text: string): Mailbox | undefined {
  const at = text.lastIndexOf('@');
  if (at <= 0) return undefined;
  const local = text.slice(0, at);
  const domain = text.slice(at + 1);
  if (!/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+$/.test(local) || !domainNameValid(domain, false)) return undefined;
  return { local, domain: domain.toLowerCase() };
}

function emailMatches(constraints: string[], box: Mailbox, permitted: boolean): boolean {
  const exact = constraints.filter((c) => c.includes('@')).map(parseMailbox).filter((m): m is Mailbox => m !== undefined);
  if (exact.some((m) => m.local === box.local && m.domain === box.domain)) return true;
  const domains = constraints.filter((c) => !c.includes('@'));
  return domains.length > 0 && dnsMatches(domains, box.domain, permitted);
}

/** The URI's host as checkChainConstraints matches it; undefined when Go refuses the URI. */
function uriDomain(uri: RegoValue): string | undefined {
  let host = String((uri as { Host: string }).Host).toLowerCase();
  if (host === '') return undefined;
  if (host.includes(':') && !host.endsWith(']')) host = host.slice(0, host.lastIndexOf(':'));
  if (host.startsWith('[') || /^[\d.]+$/.test(host) || host.includes(':')) return undefined;
  return host;
}

interface Constraint {
  permitted: string[] | undefined;
  excluded: string[] | undefined;
}

/** checkConstraints: permitted (when given) must match, excluded must not. */
function allowed(c: Constraint, matches: (list: string[], permitted: boolean) => boolean): boolean {
  if (c.permitted && !matches(c.permitted, true)) return false;
  return !(c.excluded && matches(c.excluded, false));
}

function list(cert: ParsedCertificate, field: string): string[] | undefined {
  const value = cert.json[field];
  return Array.isArray(value) && value.length > 0 ? (value as string[]) : undefined;
}

function ranges(cert: ParsedCertificate, field: string): { IP: string; Mask: string }[] | undefined {
  const value = cert.json[field];
  return Array.isArray(value) && value.length > 0 ? (value as unknown as { IP: string; Mask: string }[]) : undefined;
}

/** Does `cert` satisfy the constraints of `ca`? */
function satisfies(cert: ParsedCertificate, ca: ParsedCertificate): boolean {
  const permittedIps = ranges(ca, 'PermittedIPRanges');
  const excludedIps = ranges(ca, 'ExcludedIPRanges');
  for (const text of strings(cert, 'IPAddresses')) {
    const ip = ipBytes(text);
    if (permittedIps && !permittedIps.some((r) => ipInRange(ip, r))) return false;
    if (excludedIps?.some((r) => ipInRange(ip, r))) return false;
  }
  const dns = { permitted: list(ca, 'PermittedDNSDomains'), excluded: list(ca, 'ExcludedDNSDomains') };
  for (const name of strings(cert, 'DNSNames')) {
    if (!domainNameValid(name, false) || !allowed(dns, (l, p) => dnsMatches(l, name, p))) return false;
  }
  const uris = { permitted: list(ca, 'PermittedURIDomains'), excluded: list(ca, 'ExcludedURIDomains') };
  const uriList = (cert.json.URIs as RegoValue[] | null) ?? [];
  for (const uri of uriList) {
    const domain = uriDomain(uri);
    if (domain === undefined || !domainNameValid(domain, false) || !allowed(uris, (l, p) => dnsMatches(l, domain, p))) return false;
  }
  const emails = { permitted: list(ca, 'PermittedEmailAddresses'), excluded: list(ca, 'ExcludedEmailAddresses') };
  for (const text of strings(cert, 'EmailAddresses')) {
    const box = parseMailbox(text);
    if (!box || !allowed(emails, (l, p) => emailMatches(l, box, p))) return false;
  }
  return true;
}

/** checkChainConstraints over `chain` (leaf first). */
export function chainSatisfiesConstraints(chain: ParsedCertificate[]): boolean {
  const constrained = chain.map((cert, i) => [cert, i] as const).filter(([cert]) => hasExtension(cert, NAME_CONSTRAINTS));
  if (constrained.length === 0) return true;
  return chain.every((cert, i) => !hasExtension(cert, SUBJECT_ALT_NAME) || constrained.filter(([, j]) => j > i).every(([ca]) => satisfies(cert, ca)));
}
