/**
 * The X.509-SVID rules a leaf certificate must meet, one place for both certificates gatehouse
 * judges: the caller's, as Envoy forwards it (`include_peer_certificate`), and the client's on
 * gatehouse's own mTLS listener. From https://github.com/spiffe/spiffe/blob/main/standards/X509-SVID.md:
 * exactly one URI SAN (section 2), basicConstraints CA false (4.1), and no keyCertSign or cRLSign
 * key usage (4.3).
 *
 * node:crypto does not expose keyUsage, and its `X509Certificate.ca` is OpenSSL's X509_check_ca,
 * which answers false for basicConstraints CA:TRUE when keyUsage lacks keyCertSign; so both
 * extensions are decoded with @peculiar/asn1-x509's schema.
 */
import type { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { BasicConstraints, Certificate, KeyUsage, KeyUsageFlags, id_ce_basicConstraints, id_ce_keyUsage, type Extension } from '@peculiar/asn1-x509';
import { subjectAltNames } from './subject-alt-names.js';

/** RFC 5280 section 4.2.1.3 names, in bit order. */
const KEY_USAGE_NAMES = [
  ['digitalSignature', KeyUsageFlags.digitalSignature], ['nonRepudiation', KeyUsageFlags.nonRepudiation],
  ['keyEncipherment', KeyUsageFlags.keyEncipherment], ['dataEncipherment', KeyUsageFlags.dataEncipherment],
  ['keyAgreement', KeyUsageFlags.keyAgreement], ['keyCertSign', KeyUsageFlags.keyCertSign], ['cRLSign', KeyUsageFlags.cRLSign],
  ['encipherOnly', KeyUsageFlags.encipherOnly], ['decipherOnly', KeyUsageFlags.decipherOnly],
] as const;

/** Key usages that make a certificate able to sign certificates or revocation lists. */
const SIGNING_USAGES: readonly string[] = ['keyCertSign', 'cRLSign'];

function extension(cert: X509Certificate, id: string): Extension | undefined {
  return AsnConvert.parse(cert.raw, Certificate).tbsCertificate.extensions?.find((e) => e.extnID === id);
}

/** The certificate's keyUsage names (e.g. ["digitalSignature"]); [] without the extension. */
export function keyUsages(cert: X509Certificate): string[] {
  const found = extension(cert, id_ce_keyUsage);
  if (!found) return [];
  const bits = AsnConvert.parse(found.extnValue, KeyUsage).toNumber();
  return KEY_USAGE_NAMES.filter(([, flag]) => (bits & flag) !== 0).map(([name]) => name);
}

/** Whether basicConstraints says cA: TRUE (false without the extension). */
export function isCa(cert: X509Certificate): boolean {
  const found = extension(cert, id_ce_basicConstraints);
  return found !== undefined && AsnConvert.parse(found.extnValue, BasicConstraints).cA;
}

/** Every X.509-SVID rule `cert` breaks, each named; [] for a valid leaf SVID. */
export function svidViolations(cert: X509Certificate): string[] {
  const { uris } = subjectAltNames(cert.subjectAltName);
  const uriRule = uris.length === 1 ? [] : [`an X.509-SVID has exactly one URI SAN, this certificate has ${uris.length}`];
  return [...uriRule, ...signingViolations(cert)];
}

/** Why `cert` could act as a CA (basicConstraints CA:TRUE, keyCertSign or cRLSign); [] if it cannot. */
export function signingViolations(cert: X509Certificate): string[] {
  const violations: string[] = [];
  let usages: string[];
  try {
    if (isCa(cert)) violations.push('a leaf certificate must not be a CA certificate (basicConstraints CA:TRUE)');
    usages = keyUsages(cert);
  } catch {
    return ['the certificate\'s extensions do not parse'];
  }
  const signing = usages.filter((usage) => SIGNING_USAGES.includes(usage));
  if (signing.length > 0) violations.push(`a leaf certificate must not be able to sign certificates (keyUsage ${signing.join(', ')})`);
  return violations;
}
