/**
 * An X.509 certificate (RFC 5280) as OPA returns it: Go's crypto/x509.Certificate marshalled with
 * encoding/json (field names as in Go, []byte as base64, big integers as numbers, times in
 * RFC 3339). A port of go1.26's crypto/x509/parser.go parseCertificate and processExtensions, the
 * toolchain OPA v1.19.1 is built with; it errs where Go errs for the checks listed there.
 */
import { createPublicKey } from 'node:crypto';
import { DerError, DerReader, TAG, bitString, boolean, contextTag, integer, oid, oidString, readerOf, regoInteger, time, type Element } from './der.js';
import { domainNameValid, goIpString, goUrl } from './x509-url.js';
import type { RegoObject, RegoValue } from './types.js';

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
const EXT_KEY_USAGES: Record<string, number> = {
  '2.5.29.37.0': 0, '1.3.6.1.5.5.7.3.1': 1, '1.3.6.1.5.5.7.3.2': 2, '1.3.6.1.5.5.7.3.3': 3, '1.3.6.1.5.5.7.3.4': 4,
  '1.3.6.1.5.5.7.3.5': 5, '1.3.6.1.5.5.7.3.6': 6, '1.3.6.1.5.5.7.3.7': 7, '1.3.6.1.5.5.7.3.8': 8, '1.3.6.1.5.5.7.3.9': 9,
  '1.3.6.1.4.1.311.10.3.3': 10, '2.16.840.1.113730.4.1': 11, '1.3.6.1.4.1.311.2.1.22': 12, '1.3.6.1.4.1.311.61.1.1': 13,
};
const NAME_FIELDS: Record<number, string> = { 3: 'CommonName', 5: 'SerialNumber', 6: 'Country', 7: 'Locality', 8: 'Province', 9: 'StreetAddress', 10: 'Organization', 11: 'OrganizationalUnit', 17: 'PostalCode' };
const AIA = '1.3.6.1.5.5.7.1.1';
const OCSP = '1.3.6.1.5.5.7.48.1';
const CA_ISSUERS = '1.3.6.1.5.5.7.48.2';

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

function readExtensions(json: Record<string, RegoValue>, reader: DerReader): void {
  const list: RegoValue[] = [];
  const parsed: { id: number[]; critical: boolean; value: Buffer }[] = [];
  const seen = new Set<string>();
  while (!reader.empty) {
    const ext = reader.sequence('malformed extension');
    const id = oid(ext.read(TAG.OID, 'malformed extension OID field').content);
    const criticalElement = ext.readOptional(TAG.BOOLEAN);
    const critical = criticalElement ? boolean(criticalElement.content) : false;
    const value = ext.read(TAG.OCTET_STRING, 'malformed extension value field').content;
    const key = oidString(id);
    if (seen.has(key)) throw new DerError(`certificate contains duplicate extension with OID "${key}"`);
    seen.add(key);
    list.push(obj({ Id: id, Critical: critical, Value: b64(value) }));
    parsed.push({ id, critical, value });
  }
  if (list.length === 0) return;
  json.Extensions = list;
  const unhandled: RegoValue[] = [];
  for (const ext of parsed) {
    if (!processExtension(json, ext.id, ext.critical, ext.value) && ext.critical) unhandled.push(ext.id);
  }
  if (unhandled.length > 0) json.UnhandledCriticalExtensions = unhandled;
}

const append = (json: Record<string, RegoValue>, field: string, value: RegoValue) => {
  json[field] = [...((json[field] as RegoValue[] | null) ?? []), value];
};

/** One extension (processExtensions' switch); false when Go leaves it unhandled. */
function processExtension(json: Record<string, RegoValue>, id: number[], critical: boolean, value: Buffer): boolean {
  const key = oidString(id);
  const body = () => new DerReader(value);
  if (key === AIA) {
    if (critical) throw new DerError('authority info access incorrectly marked critical');
    const seq = body().sequence('invalid authority info access');
    while (!seq.empty) {
      const access = seq.sequence('invalid authority info access');
      const method = oidString(oid(access.read(TAG.OID, 'invalid authority info access').content));
      const location = access.readOptional(contextTag(6));
      if (!location) continue;
      if (method === OCSP) append(json, 'OCSPServer', location.content.toString('latin1'));
      else if (method === CA_ISSUERS) append(json, 'IssuingCertificateURL', location.content.toString('latin1'));
    }
    return true;
  }
  if (id.length !== 4 || id[0] !== 2 || id[1] !== 5 || id[2] !== 29) return false;
  switch (id[3]) {
    case 15: {
      const bits = bitString(body().read(TAG.BIT_STRING, 'invalid key usage').content);
      let usage = 0;
      for (let i = 0; i < 9; i++) if (bits.at(i)) usage |= 1 << i;
      json.KeyUsage = usage;
      return true;
    }
    case 19: {
      const seq = body().sequence('invalid basic constraints');
      const ca = seq.readOptional(TAG.BOOLEAN);
      const pathLen = seq.readOptional(TAG.INTEGER);
      json.IsCA = ca ? boolean(ca.content) : false;
      json.MaxPathLen = pathLen ? Number(integer(pathLen.content)) : -1;
      if (pathLen && integer(pathLen.content) < 0n) throw new DerError('invalid basic constraints');
      json.BasicConstraintsValid = true;
      json.MaxPathLenZero = json.MaxPathLen === 0;
      return true;
    }
    case 17:
      return readSubjectAltNames(json, value);
    case 30:
      return readNameConstraints(json, critical, value);
    case 31: {
      const seq = body().sequence('invalid CRL distribution points');
      while (!seq.empty) {
        const point = seq.sequence('invalid CRL distribution point');
        const name = point.readOptional(contextTag(0, true));
        if (!name) continue;
        const full = readerOf(name).read(contextTag(0, true), 'invalid CRL distribution point');
        const names = readerOf(full);
        while (!names.empty && names.peekTag() === contextTag(6)) append(json, 'CRLDistributionPoints', names.readAny().content.toString('latin1'));
      }
      return true;
    }
    case 35: {
      if (critical) throw new DerError('authority key identifier incorrectly marked critical');
      const keyId = body().sequence('invalid authority key identifier').readOptional(contextTag(0));
      if (keyId) json.AuthorityKeyId = b64(keyId.content);
      return true;
    }
    case 36: {
      const seq = body().sequence('invalid policy constraints extension');
      const require = seq.readOptional(contextTag(0));
      if (require) json.RequireExplicitPolicy = Number(integer(require.content));
      if (require) json.RequireExplicitPolicyZero = json.RequireExplicitPolicy === 0;
      const inhibit = seq.readOptional(contextTag(1));
      if (inhibit) json.InhibitPolicyMapping = Number(integer(inhibit.content));
      if (inhibit) json.InhibitPolicyMappingZero = json.InhibitPolicyMapping === 0;
      return true;
    }
    case 37: {
      const seq = body().sequence('invalid extended key usages');
      while (!seq.empty) {
        const usage = oid(seq.read(TAG.OID, 'invalid extended key usages').content);
        const known = EXT_KEY_USAGES[oidString(usage)];
        if (known !== undefined) append(json, 'ExtKeyUsage', known);
        else append(json, 'UnknownExtKeyUsage', usage);
      }
      return true;
    }
    case 14:
      if (critical) throw new DerError('subject key identifier incorrectly marked critical');
      json.SubjectKeyId = b64(body().read(TAG.OCTET_STRING, 'invalid subject key identifier').content);
      return true;
    case 32: {
      const seq = body().sequence('invalid certificate policies');
      const policies: RegoValue[] = [];
      const identifiers: RegoValue[] = [];
      while (!seq.empty) {
        const policy = oid(seq.sequence('invalid certificate policies').read(TAG.OID, 'invalid certificate policies').content);
        if (policies.includes(oidString(policy))) throw new DerError('invalid certificate policies');
        policies.push(oidString(policy));
        identifiers.push(policy);
      }
      json.Policies = policies.length > 0 ? policies : null;
      json.PolicyIdentifiers = identifiers;
      return true;
    }
    case 33: {
      const seq = body().sequence('invalid policy mappings extension');
      while (!seq.empty) {
        const mapping = seq.sequence('invalid policy mappings extension');
        const issuerPolicy = oidString(oid(mapping.read(TAG.OID, 'invalid policy mappings extension').content));
        const subjectPolicy = oidString(oid(mapping.read(TAG.OID, 'invalid policy mappings extension').content));
        append(json, 'PolicyMappings', obj({ IssuerDomainPolicy: issuerPolicy, SubjectDomainPolicy: subjectPolicy }));
      }
      return true;
    }
    case 54:
      json.InhibitAnyPolicy = Number(integer(body().read(TAG.INTEGER, 'invalid inhibit any policy extension').content));
      json.InhibitAnyPolicyZero = json.InhibitAnyPolicy === 0;
      return true;
    default:
      return false;
  }
}

function ia5(bytes: Buffer, what: string): string {
  if (bytes.some((b) => b >= 0x80)) throw new DerError(what);
  return bytes.toString('latin1');
}

/** parseSANExtension into DNSNames, EmailAddresses, IPAddresses, URIs; whether any was found. */
export function readSubjectAltNames(json: Record<string, RegoValue>, value: Buffer): boolean {
  const seq = new DerReader(value).sequence('invalid subject alternative names');
  let any = false;
  while (!seq.empty) {
    const name = seq.readAny();
    switch (name.tag ^ 0x80) {
      case 1:
        append(json, 'EmailAddresses', ia5(name.content, 'SAN rfc822Name is malformed'));
        any = true;
        break;
      case 2:
        append(json, 'DNSNames', ia5(name.content, 'SAN dNSName is malformed'));
        any = true;
        break;
      case 6: {
        const text = ia5(name.content, 'SAN uniformResourceIdentifier is malformed');
        let url: RegoObject;
        try {
          url = goUrl(text);
        } catch (err) {
          throw new DerError(`cannot parse URI ${JSON.stringify(text)}: ${(err as Error).message}`);
        }
        if (!domainNameValid(url.Host as string, false)) throw new DerError(`cannot parse URI ${JSON.stringify(text)}: invalid domain`);
        append(json, 'URIs', url);
        any = true;
        break;
      }
      case 7:
        if (name.content.length !== 4 && name.content.length !== 16) throw new DerError(`cannot parse IP address of length ${name.content.length}`);
        append(json, 'IPAddresses', goIpString(name.content));
        any = true;
        break;
      default:
    }
  }
  return any;
}

function readNameConstraints(json: Record<string, RegoValue>, critical: boolean, value: Buffer): boolean {
  const outer = new DerReader(value);
  const top = outer.sequence('invalid NameConstraints extension');
  if (!outer.empty) throw new DerError('invalid NameConstraints extension');
  const permitted = top.readOptional(contextTag(0, true));
  const excluded = top.readOptional(contextTag(1, true));
  if (!top.empty) throw new DerError('invalid NameConstraints extension');
  if ((!permitted && !excluded) || ((permitted?.content.length ?? 0) === 0 && (excluded?.content.length ?? 0) === 0)) {
    throw new DerError('empty name constraints extension');
  }
  let unhandled = false;
  const read = (subtrees: Element | undefined, prefix: 'Permitted' | 'Excluded') => {
    if (!subtrees) return;
    const reader = readerOf(subtrees);
    while (!reader.empty) {
      const base = reader.sequence('invalid NameConstraints extension').readAny();
      switch (base.tag) {
        case contextTag(2):
          append(json, `${prefix}DNSDomains`, ia5(base.content, 'invalid constraint value'));
          break;
        case contextTag(7): {
          const half = base.content.length / 2;
          if (base.content.length !== 8 && base.content.length !== 32) throw new DerError(`IP constraint contained value of length ${base.content.length}`);
          append(json, `${prefix}IPRanges`, obj({ IP: goIpString(base.content.subarray(0, half)), Mask: b64(base.content.subarray(half)) }));
          break;
        }
        case contextTag(1):
          append(json, `${prefix}EmailAddresses`, ia5(base.content, 'invalid constraint value'));
          break;
        case contextTag(6):
          append(json, `${prefix}URIDomains`, ia5(base.content, 'invalid constraint value'));
          break;
        default:
          unhandled = true;
      }
    }
  };
  read(permitted, 'Permitted');
  read(excluded, 'Excluded');
  json.PermittedDNSDomainsCritical = critical;
  return !unhandled;
}
