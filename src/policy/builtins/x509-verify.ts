/**
 * Chain verification as go1.26's crypto/x509 (verify.go) does it for OPA's
 * parse_and_verify_certificates: candidate parents by issuer name (key-id matches first), Go's
 * CheckSignatureFrom rules (parent is a CA, may sign certificates, no MD5/SHA-1/DSA, RSA of at
 * least 1024 bits), isValid (validity window, intermediates are CAs, path length), and the
 * extended key usage of the whole chain (ServerAuth unless told otherwise), certificate policies
 * (x509-policies.ts) and name constraints (x509-constraints.ts). Signatures are
 * checked by OpenSSL (node:crypto X509Certificate.verify).
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { RegoValue } from './types.js';
import type { ParsedCertificate } from './x509-cert.js';
import { chainSatisfiesConstraints } from './x509-constraints.js';
import { policiesValid } from './x509-policies.js';
import { goIpString, ipBytes } from './x509-url.js';

export interface VerifyOptions {
  dnsName: string;
  currentTimeNs: bigint | undefined;
  /** Go ExtKeyUsage values; empty means ServerAuth. */
  keyUsages: number[];
}

const ANY_USAGE = 0;
const KEY_USAGE_CERT_SIGN = 1 << 5;
/** MD2, MD5, SHA-1 (RSA, DSA, ECDSA), DSA-SHA256 and unknown algorithms: Go refuses them. */
const REFUSED_SIGNATURES = new Set([0, 1, 2, 3, 7, 8, 9]);

const field = (cert: ParsedCertificate, name: string): RegoValue | undefined => cert.json[name];
const list = (cert: ParsedCertificate, name: string): RegoValue[] => (field(cert, name) as RegoValue[] | null) ?? [];

/** RFC 3339 (as der.ts writes it) → ns since the epoch. */
function timeNs(text: string): bigint {
  return BigInt(Date.parse(text)) * 1_000_000n;
}

/** CheckSignatureFrom: may `parent` have signed `child`? */
function signedBy(child: ParsedCertificate, parent: ParsedCertificate): boolean {
  const version = field(parent, 'Version');
  const bcValid = field(parent, 'BasicConstraintsValid') === true;
  if ((version === 3 && !bcValid) || (bcValid && field(parent, 'IsCA') !== true)) return false;
  const keyUsage = field(parent, 'KeyUsage') as number;
  if (keyUsage !== 0 && (keyUsage & KEY_USAGE_CERT_SIGN) === 0) return false;
  if (field(parent, 'PublicKeyAlgorithm') === 0 || field(parent, 'PublicKeyAlgorithm') === 2) return false;
  if (REFUSED_SIGNATURES.has(field(child, 'SignatureAlgorithm') as number)) return false;
  try {
    const key = new X509Certificate(parent.raw).publicKey;
    if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 1024) return false;
    return new X509Certificate(child.raw).verify(key);
  } catch {
    return false;
  }
}

type Role = 'leaf' | 'intermediate' | 'root';

/** isValid for `cert` appended to `chain` in `role`. */
function isValid(cert: ParsedCertificate, role: Role, chain: ParsedCertificate[], now: bigint): boolean {
  if (list(cert, 'UnhandledCriticalExtensions').length > 0) return false;
  const child = chain[chain.length - 1];
  if (child && field(child, 'RawIssuer') !== field(cert, 'RawSubject')) return false;
  if (now < timeNs(field(cert, 'NotBefore') as string) || now > timeNs(field(cert, 'NotAfter') as string)) return false;
  if (role === 'intermediate' && (field(cert, 'BasicConstraintsValid') !== true || field(cert, 'IsCA') !== true)) return false;
  const maxPathLen = field(cert, 'MaxPathLen') as number;
  if (field(cert, 'BasicConstraintsValid') === true && maxPathLen >= 0 && chain.length - 1 > maxPathLen) return false;
  return true;
}

/** CertPool.findPotentialParents: same issuer name; key-id matches, then one-sided, then mismatches. */
function potentialParents(cert: ParsedCertificate, pool: ParsedCertificate[]): ParsedCertificate[] {
  const rank = (candidate: ParsedCertificate) => {
    const skid = field(candidate, 'SubjectKeyId');
    const akid = field(cert, 'AuthorityKeyId');
    if (skid === akid) return 0;
    return !skid !== !akid ? 1 : 2;
  };
  return pool.filter((candidate) => field(candidate, 'RawSubject') === field(cert, 'RawIssuer')).sort((a, b) => rank(a) - rank(b));
}

/** Go's maxChainSignatureChecks: path building stops after this many candidate parents. */
const MAX_SIGNATURE_CHECKS = 100;

interface Search {
  roots: ParsedCertificate[];
  intermediates: ParsedCertificate[];
  now: bigint;
  checks: number;
}

/** buildChains: every chain from `chain` to a root, depth first, roots before intermediates. */
function buildChains(chain: ParsedCertificate[], search: Search): ParsedCertificate[][] {
  const current = chain[chain.length - 1]!;
  const chains: ParsedCertificate[][] = [];
  const candidates: [ParsedCertificate, Role][] = [
    ...potentialParents(current, search.roots).map((c): [ParsedCertificate, Role] => [c, 'root']),
    ...potentialParents(current, search.intermediates).map((c): [ParsedCertificate, Role] => [c, 'intermediate']),
  ];
  for (const [candidate, role] of candidates) {
    if (++search.checks > MAX_SIGNATURE_CHECKS) break;
    if (alreadyInChain(candidate, chain) || !signedBy(current, candidate) || !isValid(candidate, role, chain, search.now)) continue;
    if (role === 'root') chains.push([...chain, candidate]);
    else chains.push(...buildChains([...chain, candidate], search));
  }
  return chains;
}

/** The SAN extension's value (base64), or undefined. */
function sanValue(cert: ParsedCertificate): RegoValue | undefined {
  return ((field(cert, 'Extensions') as { Id: number[]; Value: string }[] | null) ?? []).find((ext) => ext.Id.join('.') === '2.5.29.17')?.Value;
}

/** alreadyInChain: same subject, same public key and same SANs as a certificate in the chain. */
function alreadyInChain(candidate: ParsedCertificate, chain: ParsedCertificate[]): boolean {
  return chain.some((cert) => field(cert, 'RawSubject') === field(candidate, 'RawSubject')
    && field(cert, 'RawSubjectPublicKeyInfo') === field(candidate, 'RawSubjectPublicKeyInfo')
    && sanValue(cert) === sanValue(candidate));
}

/** checkChainForKeyUsage. */
function chainAllows(chain: ParsedCertificate[], requested: number[]): boolean {
  const usages = [...requested];
  let remaining = usages.length;
  for (let i = chain.length - 1; i >= 0; i--) {
    const cert = chain[i]!;
    const ekus = list(cert, 'ExtKeyUsage') as number[];
    if (ekus.length === 0 && list(cert, 'UnknownExtKeyUsage').length === 0) continue;
    if (ekus.includes(ANY_USAGE)) continue;
    for (let j = 0; j < usages.length; j++) {
      if (usages[j] === -1 || ekus.includes(usages[j]!)) continue;
      usages[j] = -1;
      if (--remaining === 0) return false;
    }
  }
  return true;
}

/** leaf.Verify({Roots, Intermediates, CurrentTime, KeyUsages}): the first valid chain, leaf first, or undefined. */
export function verifyChain(leaf: ParsedCertificate, roots: ParsedCertificate[], intermediates: ParsedCertificate[], opts: VerifyOptions): ParsedCertificate[] | undefined {
  const now = opts.currentTimeNs ?? 0n;
  if (!isValid(leaf, 'leaf', [], now)) return undefined;
  const uniqueRoots = dedupe(roots);
  const candidates = uniqueRoots.some((root) => root.raw.equals(leaf.raw)) ? [[leaf]] : buildChains([leaf], { roots: uniqueRoots, intermediates: dedupe(intermediates), now, checks: 0 });
  const requested = opts.keyUsages.length === 0 ? [1] : opts.keyUsages;
  const anyUsage = opts.keyUsages.includes(ANY_USAGE);
  return candidates.find((chain) => policiesValid(chain) && (anyUsage || chainAllows(chain, requested)) && chainSatisfiesConstraints(chain));
}

function dedupe(certs: ParsedCertificate[]): ParsedCertificate[] {
  return certs.filter((cert, i) => certs.findIndex((other) => other.raw.equals(cert.raw)) === i);
}

/** Certificate.VerifyHostname: IP SANs for an IP, DNS SANs (a leading `*` label matches one label) otherwise. */
export function verifyHostname(cert: ParsedCertificate, host: string): boolean {
  const candidate = host.length >= 3 && host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(candidate)) {
    const wanted = normaliseIp(candidate);
    return list(cert, 'IPAddresses').some((ip) => normaliseIp(ip as string) === wanted);
  }
  const name = asciiLower(host);
  const validName = validHostname(name, false);
  const hostParts = asciiLower(name.endsWith('.') ? name.slice(0, -1) : name).split('.');
  return list(cert, 'DNSNames').some((pattern) => {
    const text = pattern as string;
    if (validName && validHostname(text, true)) return matchHostnames(asciiLower(text), hostParts);
    return text !== '' && text !== '.' && name !== '' && name !== '.' && asciiLower(text) === name;
  });
}

function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
}

/** net.IP.Equal: compare as Go prints them (IPv4-mapped IPv6 equals IPv4). */
function normaliseIp(ip: string): string {
  return goIpString(ipBytes(ip));
}

/** validHostname: non-empty labels of [A-Za-z0-9_-] (no leading '-'); a pattern may start with `*`. */
function validHostname(host: string, isPattern: boolean): boolean {
  const name = !isPattern && host.endsWith('.') ? host.slice(0, -1) : host;
  if (name.length === 0 || name === '*') return false;
  return name.split('.').every((label, i) => (isPattern && i === 0 && label === '*') || /^[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(label));
}

function matchHostnames(pattern: string, hostParts: string[]): boolean {
  if (pattern.length === 0) return false;
  const parts = pattern.split('.');
  return parts.length === hostParts.length && parts.every((label, i) => (i === 0 && label === '*') || label === hostParts[i]);
}
