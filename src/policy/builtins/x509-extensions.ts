/**
 * The extensions of an X.509 certificate as go1.26's crypto/x509 processExtensions reads them into
 * the Certificate fields OPA returns (key usages, basic constraints, SANs, name constraints, CRL
 * and AIA URLs, key ids, policies), erring where Go errs.
 */
import { DerError, DerReader, TAG, bitString, boolean, contextTag, integer, oid, oidString, readerOf, type Element } from './der.js';
import { isIP } from 'node:net';
import { goBytesToString } from './go-bytes.js';
import type { RegoObject, RegoValue } from './types.js';
import { parseMailbox } from './x509-constraints.js';
import { domainNameValid, goIpString, goUrl } from './x509-url.js';

const b64 = (bytes: Buffer): string => bytes.toString('base64');
const obj = (fields: Record<string, RegoValue>): RegoObject => Object.assign(Object.create(null) as RegoObject, fields);

const EXT_KEY_USAGES: Record<string, number> = {
  '2.5.29.37.0': 0, '1.3.6.1.5.5.7.3.1': 1, '1.3.6.1.5.5.7.3.2': 2, '1.3.6.1.5.5.7.3.3': 3, '1.3.6.1.5.5.7.3.4': 4,
  '1.3.6.1.5.5.7.3.5': 5, '1.3.6.1.5.5.7.3.6': 6, '1.3.6.1.5.5.7.3.7': 7, '1.3.6.1.5.5.7.3.8': 8, '1.3.6.1.5.5.7.3.9': 9,
  '1.3.6.1.4.1.311.10.3.3': 10, '2.16.840.1.113730.4.1': 11, '1.3.6.1.4.1.311.2.1.22': 12, '1.3.6.1.4.1.311.61.1.1': 13,
};
const AIA = '1.3.6.1.5.5.7.1.1';
const OCSP = '1.3.6.1.5.5.7.48.1';
const CA_ISSUERS = '1.3.6.1.5.5.7.48.2';

/** The extensions SEQUENCE: `Extensions`, then each one processed into its fields. */
export function readExtensions(json: Record<string, RegoValue>, reader: DerReader): void {
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
      if (method === OCSP) append(json, 'OCSPServer', goBytesToString(location.content));
      else if (method === CA_ISSUERS) append(json, 'IssuingCertificateURL', goBytesToString(location.content));
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
        while (!names.empty && names.peekTag() === contextTag(6)) append(json, 'CRLDistributionPoints', goBytesToString(names.readAny().content));
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
        case contextTag(2): {
          const domain = ia5(base.content, 'invalid constraint value');
          if (!domainNameValid(domain, true)) throw new DerError(`failed to parse dnsName constraint ${JSON.stringify(domain)}`);
          append(json, `${prefix}DNSDomains`, domain);
          break;
        }
        case contextTag(7): {
          const half = base.content.length / 2;
          if (base.content.length !== 8 && base.content.length !== 32) throw new DerError(`IP constraint contained value of length ${base.content.length}`);
          const mask = base.content.subarray(half);
          if (!validIpMask(mask)) throw new DerError(`IP constraint contained invalid mask ${mask.toString('hex')}`);
          append(json, `${prefix}IPRanges`, obj({ IP: goIpString(base.content.subarray(0, half)), Mask: b64(mask) }));
          break;
        }
        case contextTag(1): {
          const constraint = ia5(base.content, 'invalid constraint value');
          const valid = constraint.includes('@') ? parseMailbox(constraint) !== undefined : domainNameValid(constraint, true);
          if (!valid) throw new DerError(`failed to parse rfc822Name constraint ${JSON.stringify(constraint)}`);
          append(json, `${prefix}EmailAddresses`, constraint);
          break;
        }
        case contextTag(6): {
          const domain = ia5(base.content, 'invalid constraint value');
          if (isIP(domain)) throw new DerError(`failed to parse URI constraint ${JSON.stringify(domain)}: cannot be IP address`);
          if (!domainNameValid(domain, true)) throw new DerError(`failed to parse URI constraint ${JSON.stringify(domain)}`);
          append(json, `${prefix}URIDomains`, domain);
          break;
        }
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

/** isValidIPMask: ones, then zeros. */
function validIpMask(mask: Buffer): boolean {
  let seenZero = false;
  for (const b of mask) {
    if (seenZero ? b !== 0 : b !== 0xff) {
      if (seenZero || ![0x00, 0x80, 0xc0, 0xe0, 0xf0, 0xf8, 0xfc, 0xfe].includes(b)) return false;
      seenZero = true;
    }
  }
  return true;
}
