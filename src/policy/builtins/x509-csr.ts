/**
 * crypto.x509.parse_certificate_request: a PKCS #10 request (RFC 2986) as Go's
 * x509.CertificateRequest marshalled to JSON (go1.26 parseCertificateRequest): the requested
 * extensions, their SANs, the deprecated Attributes view of the extension request.
 */
import { goBase64Decode, goPemDecode } from './go-encoding.js';
import { DerError, DerReader, TAG, bitString, boolean, contextTag, integer, oid, oidString, readerOf } from './der.js';
import type { RegoObject, RegoValue } from './types.js';
import { PUBLIC_KEY_ALGORITHMS, parseName, publicKey, signatureAlgorithm } from './x509-cert.js';
import { readSubjectAltNames } from './x509-extensions.js';

const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const b64 = (bytes: Buffer): string => bytes.toString('base64');
const obj = (fields: Record<string, RegoValue>): RegoObject => Object.assign(Object.create(null) as RegoObject, fields);

export function parseCertificateRequest(input: string): RegoValue {
  let bytes = input.startsWith('-----BEGIN CERTIFICATE REQUEST-----') ? Buffer.from(input, 'utf8') : goBase64Decode(input, false);
  const { block } = goPemDecode(bytes);
  if (block && block.type !== 'CERTIFICATE REQUEST') throw new Error('invalid PEM-encoded certificate signing request');
  if (block) bytes = block.bytes;
  try {
    return parse(bytes);
  } catch (err) {
    if (err instanceof DerError) throw new Error(`x509: ${err.message}`);
    throw err;
  }
}

function parse(der: Buffer): RegoValue {
  const outer = new DerReader(der);
  const requestElement = outer.read(TAG.SEQUENCE, 'malformed certificate request');
  if (!outer.empty) throw new DerError('trailing data');
  const request = readerOf(requestElement);
  const tbsElement = request.read(TAG.SEQUENCE, 'malformed certificate request info');
  const tbs = readerOf(tbsElement);
  const version = integer(tbs.read(TAG.INTEGER, 'malformed version').content);
  const subject = tbs.read(TAG.SEQUENCE, 'malformed subject');
  const spkiElement = tbs.read(TAG.SEQUENCE, 'malformed spki');
  const spki = readerOf(spkiElement);
  const keyAi = spki.sequence('malformed public key algorithm identifier');
  const keyAlgorithm = PUBLIC_KEY_ALGORITHMS[oidString(oid(keyAi.read(TAG.OID, 'malformed public key algorithm').content))] ?? 0;
  const keyParams = keyAi.empty ? undefined : keyAi.readAny();
  const keyBits = bitString(spki.read(TAG.BIT_STRING, 'malformed subjectPublicKey').content);
  const attributes = tbs.read(contextTag(0, true), 'malformed attributes');
  const signatureAi = request.sequence('malformed signature algorithm');
  const signature = bitString(request.read(TAG.BIT_STRING, 'malformed signature').content);

  const json: Record<string, RegoValue> = {
    Raw: b64(requestElement.raw), RawTBSCertificateRequest: b64(tbsElement.raw), RawSubjectPublicKeyInfo: b64(spkiElement.raw),
    RawSubject: b64(subject.raw), Version: Number(version), Signature: b64(signature.bytes),
    SignatureAlgorithm: signatureAlgorithm(signatureAi), PublicKeyAlgorithm: keyAlgorithm,
    PublicKey: publicKey(keyAlgorithm, keyParams, keyBits.bytes, spkiElement.raw), Subject: parseName(subject),
    Attributes: null, Extensions: null, ExtraExtensions: null, DNSNames: null, EmailAddresses: null, IPAddresses: null, URIs: null,
  };
  const attributeList: RegoValue[] = [];
  const extensions: RegoValue[] = [];
  const reader = readerOf(attributes);
  while (!reader.empty) {
    const attribute = reader.sequence('malformed attribute');
    const type = oid(attribute.read(TAG.OID, 'malformed attribute').content);
    const values = readerOf(attribute.read(TAG.SET, 'malformed attribute'));
    if (oidString(type) !== EXTENSION_REQUEST) continue;
    const sets: RegoValue[] = [];
    while (!values.empty) {
      const list = values.sequence('malformed extension request');
      const entries: RegoValue[] = [];
      while (!list.empty) {
        const ext = list.sequence('malformed extension');
        const id = oid(ext.read(TAG.OID, 'malformed extension').content);
        const critical = ext.readOptional(TAG.BOOLEAN);
        const value = ext.read(TAG.OCTET_STRING, 'malformed extension').content;
        extensions.push(obj({ Id: id, Critical: critical ? boolean(critical.content) : false, Value: b64(value) }));
        entries.push(obj({ Type: id, Value: critical ? boolean(critical.content) : b64(value) }));
        if (oidString(id) === '2.5.29.17') readSubjectAltNames(json, value);
      }
      sets.push(entries);
    }
    attributeList.push(obj({ Type: type, Value: sets }));
  }
  if (attributeList.length > 0) json.Attributes = attributeList;
  if (extensions.length > 0) json.Extensions = extensions;
  return obj(json);
}
