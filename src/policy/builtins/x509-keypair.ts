/**
 * crypto.x509.parse_keypair's core: Go's tls.X509KeyPair (go1.26) marshalled to JSON — every
 * CERTIFICATE block, the first private-key block, the key checked against the first
 * certificate's public key, and the parsed leaf.
 */
import { createPublicKey } from 'node:crypto';
import { goPemDecode } from './go-encoding.js';
import { goPrivateKeyJson, parsePrivateKeyDer } from './private-keys.js';
import type { RegoObject, RegoValue } from './types.js';
import { parseCertificate } from './x509-cert.js';

export function x509KeyPair(certPem: Buffer, keyPem: Buffer): RegoValue {
  const certificates: Buffer[] = [];
  const skipped: string[] = [];
  for (let rest = certPem; ;) {
    const { block, rest: next } = goPemDecode(rest);
    if (!block) break;
    if (block.type === 'CERTIFICATE') certificates.push(block.bytes);
    else skipped.push(block.type);
    rest = next;
  }
  if (certificates.length === 0) {
    if (skipped.length === 0) throw new Error('tls: failed to find any PEM data in certificate input');
    throw new Error(`tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM blocks of the following types: [${skipped.join(' ')}]`);
  }
  let keyDer: Buffer | undefined;
  for (let rest = keyPem; ;) {
    const { block, rest: next } = goPemDecode(rest);
    if (!block) throw new Error('tls: failed to find any PEM data in key input');
    if (block.type === 'PRIVATE KEY' || block.type.endsWith(' PRIVATE KEY')) {
      keyDer = block.bytes;
      break;
    }
    rest = next;
  }
  const leaf = parseCertificate(certificates[0]!);
  const privateKey = parseAnyPrivateKey(keyDer);
  const leafKey = createPublicKey({ key: Buffer.from(leaf.json.RawSubjectPublicKeyInfo as string, 'base64'), format: 'der', type: 'spki' });
  const keyType = leafKey.asymmetricKeyType;
  if (!['rsa', 'ec', 'ed25519'].includes(keyType ?? '')) throw new Error('tls: unknown public key algorithm');
  if (privateKey.asymmetricKeyType !== keyType) throw new Error('tls: private key type does not match public key type');
  const derived = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  if (!derived.equals(leafKey.export({ format: 'der', type: 'spki' }))) throw new Error('tls: private key does not match public key');
  const json: Record<string, RegoValue> = {
    Certificate: certificates.map((der) => der.toString('base64')),
    PrivateKey: goPrivateKeyJson(privateKey),
    SupportedSignatureAlgorithms: null,
    OCSPStaple: null,
    SignedCertificateTimestamps: null,
    Leaf: leaf.json,
  };
  return Object.assign(Object.create(null) as RegoObject, json);
}

/** tls.parsePrivateKey: PKCS #1, then PKCS #8, then SEC 1. */
function parseAnyPrivateKey(der: Buffer) {
  for (const type of ['pkcs1', 'pkcs8', 'sec1'] as const) {
    try {
      return parsePrivateKeyDer(der, type);
    } catch {
      // try the next encoding
    }
  }
  throw new Error('tls: failed to parse private key');
}
