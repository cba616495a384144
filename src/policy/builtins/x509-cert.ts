/**
 * An X.509 certificate (RFC 5280) as OPA returns it: Go's crypto/x509.Certificate marshalled with
 * encoding/json (field names as in Go, []byte as base64, big integers as numbers, times in
 * RFC 3339). A port of go1.26's crypto/x509/parser.go parseCertificate and processExtensions, the
 * toolchain OPA v1.19.1 is built with; it errs where Go errs for the checks listed there.
 */
import { createPublicKey } from 'node:crypto';
import { DerError, DerReader, TAG, bitString, contextTag, integer, oid, oidString, readerOf, regoInteger, time, type Element } from './der.js';
import type { RegoObject, RegoValue } from './types.js';
import { readExtensions } from './x509-extensions.js';

const b64 = (bytes: Buffer): string => bytes.toString('base64');
const obj = (fields: Record<string, RegoValue>): RegoObject => Object.assign(Object.create(null) as RegoObject, fields);

const SIGNATURE_ALGORITHMS: Record<string, number> = {
  '1.2.840.113549.1.1.2': 1, '1.2.840.113549.1.1.4': 2, '1.2.840.113549.1.1.5': 3, '1.3.14.3.2.29': 3,
  '1.2.840.113549.1.1.11': 4, '1.2.840.113549.1.1.12': 5, '1.2.840.113549.1.1.13': 6,
  '1.2.840.10040.4.3': 7, '2.16.840.1.101.3.4.3.2': 8, '1.2.840.10045.4.1': 9, '1.2.840.10045.4.3.2': 10,
  '1.2.840.10045.4.3.3': 11, '1.2.840.10045.4.3.4': 12, '1.3.101.112': 16,
};
const RSA_PSS = '1.2.840.113549.1.1.10';
const PSS_HASHES: Record<string, [number, number]> = { '2.16.840.1.101.3.4.2.1': [32, 13], '2.16.840.1.101.3.4.2.2': [48, 14], '2.16.840.1.101.3.4.2.3': [64, 15] };
export const PUBLIC_KEY_ALGORITHMS: Record<string, number> = { '1.2.840.113549.1.1.1': 1, '1.2.840.10040.4.1': 2, '1.2.840.10045.2.1': 3, '1.3.101.112': 4 };
const CURVES: Record<string, { name: string; bytes: number }> = {
  '1.3.132.0.33': { name: 'P-224', bytes: 28 }, '1.2.840.10045.3.1.7': { name: 'P-256', bytes: 32 },
  '1.3.132.0.34': { name: 'P-384', bytes: 48 }, '1.3.132.0.35': { name: 'P-521', bytes: 66 },
};
const NAME_FIELDS: Record<number, string> = { 3: 'CommonName', 5: 'SerialNumber', 6: 'Country', 7: 'Locality', 8: 'Province', 9: 'StreetAddress', 10: 'Organization', 11: 'OrganizationalUnit', 17: 'PostalCode' };

/** The parsed certificate plus what verification needs. */
export interface ParsedCertificate {
  json: RegoObject;
  raw: Buffer;
}

/** Go's x509.ParseCertificates: every certificate in concatenated DER. @throws Error as Go errs. */
export function parseCertificates(der: Buffer): ParsedCertificate[] {
  const certs: ParsedCertificate[] = [];
  let rest = der;
  while (rest.length > 0) {
    const cert = parseCertificate(rest);
    certs.push(cert);
    rest = rest.subarray(cert.raw.length);
  }
  return certs;
}

export function parseCertificate(der: Buffer): ParsedCertificate {
  try {
    return parse(der);
  } catch (err) {
    if (err instanceof DerError) throw new Error(`x509: ${err.message}`);
    throw err;
  }
}

/** pkix.Name from an RDNSequence (parseName + FillFromRDNSequence). */
export function parseName(element: Element): RegoObject {
  const name: Record<string, RegoValue> = {
    Country: null, Organization: null, OrganizationalUnit: null, Locality: null, Province: null, StreetAddress: null,
    PostalCode: null, SerialNumber: '', CommonName: '', Names: null, ExtraNames: null,
  };
  const names: RegoValue[] = [];
  const rdns = readerOf(element);
  while (!rdns.empty) {
    const set = new DerReader(rdns.read(TAG.SET, 'RDNSequence').content);
    while (!set.empty) {
      const atav = set.sequence('RDNSequence: invalid attribute');
      const type = oid(atav.read(TAG.OID, 'RDNSequence: invalid attribute type').content);
      const value = asn1String(atav.readAny());
      names.push(obj({ Type: type, Value: value }));
      const field = type.length === 4 && type[0] === 2 && type[1] === 5 && type[2] === 4 ? NAME_FIELDS[type[3]!] : undefined;
      if (field === 'CommonName' || field === 'SerialNumber') name[field] = value;
      else if (field) name[field] = [...((name[field] as string[] | null) ?? []), value];
    }
  }
  if (names.length > 0) name.Names = names;
  return obj(name);
}

/** parseASN1String. */
function asn1String(element: Element): string {
  const bytes = element.content;
  switch (element.tag) {
    case TAG.T61String:
      return bytes.toString('latin1');
    case TAG.PrintableString:
      if (!/^[A-Za-z0-9 '()+,\-./:=?*&]*$/.test(bytes.toString('latin1'))) throw new DerError('invalid RDNSequence: invalid attribute value: invalid PrintableString');
      return bytes.toString('latin1');
    case TAG.UTF8String: {
      const text = bytes.toString('utf8');
      if (!Buffer.from(text, 'utf8').equals(bytes)) throw new DerError('invalid RDNSequence: invalid attribute value: invalid UTF-8 string');
      return text;
    }
    case TAG.BMPString: {
      let units = bytes;
      if (units.length % 2 !== 0) throw new DerError('invalid RDNSequence: invalid attribute value: invalid BMPString');
      if (units.length >= 2 && units[units.length - 1] === 0 && units[units.length - 2] === 0) units = units.subarray(0, -2);
      let text = '';
      for (let i = 0; i < units.length; i += 2) {
        const point = units.readUInt16BE(i);
        if (point >= 0xfffe || (point >= 0xfdd0 && point <= 0xfdef) || (point >= 0xd800 && point <= 0xdfff)) {
          throw new DerError('invalid RDNSequence: invalid attribute value: invalid BMPString');
        }
        text += String.fromCharCode(point);
      }
      return text;
    }
    case TAG.IA5String:
      if (bytes.some((b) => b >= 0x80)) throw new DerError('invalid RDNSequence: invalid attribute value: invalid IA5String');
      return bytes.toString('latin1');
    case TAG.NumericString:
      if (!/^[0-9 ]*$/.test(bytes.toString('latin1'))) throw new DerError('invalid RDNSequence: invalid attribute value: invalid NumericString');
      return bytes.toString('latin1');
    default:
      throw new DerError(`invalid RDNSequence: invalid attribute value: unsupported string type: ${element.tag}`);
  }
}

/** getSignatureAlgorithmFromAI: Go's SignatureAlgorithm number. */
export function signatureAlgorithm(ai: DerReader): number {
  const algorithm = oidString(oid(ai.read(TAG.OID, 'signature algorithm identifier').content));
  if (algorithm !== RSA_PSS) return SIGNATURE_ALGORITHMS[algorithm] ?? 0;
  try {
    const params = ai.sequence('PSS parameters');
    const hash = params.readOptional(contextTag(0, true));
    const mgf = params.readOptional(contextTag(1, true));
    const salt = params.readOptional(contextTag(2, true));
    const trailer = params.readOptional(contextTag(3, true));
    if (!hash || !mgf) return 0;
    const hashOid = oidString(oid(readerOf(hash).sequence('hash').read(TAG.OID, 'hash').content));
    const mgfSeq = readerOf(mgf).sequence('mgf');
    if (oidString(oid(mgfSeq.read(TAG.OID, 'mgf').content)) !== '1.2.840.113549.1.1.8') return 0;
    if (oidString(oid(mgfSeq.sequence('mgf hash').read(TAG.OID, 'mgf hash').content)) !== hashOid) return 0;
    if (trailer && integer(readerOf(trailer).read(TAG.INTEGER, 'trailer').content) !== 1n) return 0;
    const saltLength = salt ? integer(readerOf(salt).read(TAG.INTEGER, 'salt').content) : 20n;
    const known = PSS_HASHES[hashOid];
    return known && BigInt(known[0]) === saltLength ? known[1] : 0;
  } catch {
    return 0;
  }
}

/** The public key as Go's key type marshals (null for an algorithm Go does not know). */
export function publicKey(algorithm: number, params: Element | undefined, key: Buffer, spki: Buffer): RegoValue {
  switch (algorithm) {
    case 1: {
      if (!params || params.tag !== TAG.NULL || params.content.length !== 0) throw new DerError('RSA key missing NULL parameters');
      const seq = new DerReader(key).sequence('invalid RSA public key');
      const n = integer(seq.read(TAG.INTEGER, 'RSA modulus').content);
      const e = integer(seq.read(TAG.INTEGER, 'RSA public exponent').content);
      if (n <= 0n) throw new DerError('RSA modulus is not a positive number');
      if (e <= 0n || e > 2147483647n) throw new DerError('RSA public exponent is not a positive number');
      return obj({ N: regoInteger(n), E: Number(e) });
    }
    case 3: {
      const curve = params?.tag === TAG.OID ? CURVES[oidString(oid(params.content))] : undefined;
      if (!params || params.tag !== TAG.OID) throw new DerError('invalid ECDSA parameters');
      if (!curve) throw new DerError('unsupported elliptic curve');
      if (key.length !== 1 + 2 * curve.bytes || key[0] !== 4) throw new Error('ecdsa: invalid public key');
      try {
        createPublicKey({ key: spki, format: 'der', type: 'spki' });
      } catch {
        throw new Error('ecdsa: invalid public key');
      }
      const coordinate = (bytes: Buffer) => regoInteger(BigInt(`0x${bytes.toString('hex')}`));
      return obj({ Curve: obj({}), X: coordinate(key.subarray(1, 1 + curve.bytes)), Y: coordinate(key.subarray(1 + curve.bytes)) });
    }
    case 4:
      if (params) throw new DerError('Ed25519 key encoded with illegal parameters');
      if (key.length !== 32) throw new DerError('wrong Ed25519 public key size');
      return b64(key);
    case 2: {
      const y = integer(new DerReader(key).read(TAG.INTEGER, 'invalid DSA public key').content);
      const p = params && params.tag === TAG.SEQUENCE ? readerOf(params) : undefined;
      if (!p) throw new DerError('invalid DSA parameters');
      const [P, Q, G] = [0, 1, 2].map(() => integer(p.read(TAG.INTEGER, 'invalid DSA parameters').content));
      // dsa.PublicKey embeds dsa.Parameters: encoding/json promotes P, Q, G.
      return obj({ P: regoInteger(P!), Q: regoInteger(Q!), G: regoInteger(G!), Y: regoInteger(y) });
    }
    default:
      return null;
  }
}

function parse(der: Buffer): ParsedCertificate {
  const outer = new DerReader(der);
  const certElement = outer.read(TAG.SEQUENCE, 'malformed certificate');
  const cert = readerOf(certElement);
  const tbsElement = cert.read(TAG.SEQUENCE, 'malformed tbs certificate');
  const tbs = readerOf(tbsElement);
  const versionElement = tbs.readOptional(contextTag(0, true));
  let version = 0n;
  if (versionElement) version = integer(readerOf(versionElement).read(TAG.INTEGER, 'malformed version').content);
  if (version < 0n) throw new DerError('malformed version');
  if (version + 1n > 3n) throw new DerError('invalid version');
  const serial = integer(tbs.read(TAG.INTEGER, 'malformed serial number').content);
  if (serial < 0n) throw new DerError('negative serial number');
  const innerAi = tbs.read(TAG.SEQUENCE, 'malformed signature algorithm identifier');
  const outerAi = cert.read(TAG.SEQUENCE, 'malformed algorithm identifier');
  if (!innerAi.content.equals(outerAi.content)) throw new DerError(`inner and outer signature algorithm identifiers don't match`);
  const issuer = tbs.read(TAG.SEQUENCE, 'malformed issuer');
  const validity = readerOf(tbs.read(TAG.SEQUENCE, 'malformed validity'));
  const notBefore = time(validity.readAny());
  const notAfter = time(validity.readAny());
  const subject = tbs.read(TAG.SEQUENCE, 'malformed issuer');
  const spkiElement = tbs.read(TAG.SEQUENCE, 'malformed spki');
  const spki = readerOf(spkiElement);
  const keyAi = spki.sequence('malformed public key algorithm identifier');
  const keyAlgorithmOid = oidString(oid(keyAi.read(TAG.OID, 'malformed public key algorithm identifier').content));
  const keyParams = keyAi.empty ? undefined : keyAi.readAny();
  const keyBits = bitString(spki.read(TAG.BIT_STRING, 'malformed subjectPublicKey').content);
  const keyAlgorithm = PUBLIC_KEY_ALGORITHMS[keyAlgorithmOid] ?? 0;

  const json: Record<string, RegoValue> = {
    Raw: b64(certElement.raw), RawTBSCertificate: b64(tbsElement.raw), RawSubjectPublicKeyInfo: b64(spkiElement.raw),
    RawSubject: b64(subject.raw), RawIssuer: b64(issuer.raw),
    SignatureAlgorithm: signatureAlgorithm(readerOf(innerAi)), PublicKeyAlgorithm: keyAlgorithm,
    PublicKey: publicKey(keyAlgorithm, keyParams, keyBits.bytes, spkiElement.raw),
    Version: Number(version) + 1, SerialNumber: regoInteger(serial),
    Issuer: parseName(issuer), Subject: parseName(subject), NotBefore: notBefore, NotAfter: notAfter,
    KeyUsage: 0, Extensions: null, ExtraExtensions: null, UnhandledCriticalExtensions: null,
    ExtKeyUsage: null, UnknownExtKeyUsage: null, BasicConstraintsValid: false, IsCA: false, MaxPathLen: 0, MaxPathLenZero: false,
    SubjectKeyId: null, AuthorityKeyId: null, OCSPServer: null, IssuingCertificateURL: null,
    DNSNames: null, EmailAddresses: null, IPAddresses: null, URIs: null,
    PermittedDNSDomainsCritical: false, PermittedDNSDomains: null, ExcludedDNSDomains: null, PermittedIPRanges: null,
    ExcludedIPRanges: null, PermittedEmailAddresses: null, ExcludedEmailAddresses: null, PermittedURIDomains: null,
    ExcludedURIDomains: null, CRLDistributionPoints: null, PolicyIdentifiers: null, Policies: null,
    InhibitAnyPolicy: 0, InhibitAnyPolicyZero: false, InhibitPolicyMapping: 0, InhibitPolicyMappingZero: false,
    RequireExplicitPolicy: 0, RequireExplicitPolicyZero: false, PolicyMappings: null,
  };
  if (version >= 1n) {
    tbs.readOptional(contextTag(1));
    tbs.readOptional(contextTag(2));
    if (version === 2n) {
      const extensions = tbs.readOptional(contextTag(3, true));
      if (extensions) readExtensions(json, readerOf(extensions).sequence('malformed extensions'));
    }
  }
  json.Signature = b64(bitString(cert.read(TAG.BIT_STRING, 'malformed signature').content).bytes);
  return { json: obj(json), raw: certElement.raw };
}
