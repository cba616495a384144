/**
 * Private keys as OPA v1.19.1 returns them (topdown/crypto.go getPrivateKeysFromPEMData):
 * "RSA PRIVATE KEY" (PKCS #1), "PRIVATE KEY" (PKCS #8) and "EC PRIVATE KEY" (SEC 1) PEM blocks,
 * parsed with node:crypto and shaped as Go's key types marshalled to JSON (rsa.PrivateKey,
 * ecdsa.PrivateKey, ed25519.PrivateKey), or as a JWK for parse_rsa_private_key (jwx's JSON).
 */
import { createPrivateKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { DerReader, TAG, contextTag, regoInteger } from './der.js';
import { goBase64Decode, goPemDecode } from './go-encoding.js';
import type { RegoObject, RegoValue } from './types.js';

const PEM_TYPES: Record<string, 'pkcs1' | 'pkcs8' | 'sec1'> = { 'RSA PRIVATE KEY': 'pkcs1', 'PRIVATE KEY': 'pkcs8', 'EC PRIVATE KEY': 'sec1' };
const GO_PARSERS = { pkcs1: 'ParsePKCS1PrivateKey', pkcs8: 'ParsePKCS8PrivateKey', sec1: 'ParseECPrivateKey' } as const;

const obj = (fields: Record<string, RegoValue>): RegoObject => Object.assign(Object.create(null) as RegoObject, fields);

/** A DER private key of one of Go's three encodings. @throws Error as Go's x509 parsers do. */
export function parsePrivateKeyDer(der: Buffer, type: 'pkcs1' | 'pkcs8' | 'sec1'): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: der, format: 'der', type });
  } catch (err) {
    throw new Error(`x509: failed to parse private key (${GO_PARSERS[type]}): ${(err as Error).message}`);
  }
  const kind = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if ((type === 'pkcs1' && kind !== 'rsa') || (type === 'sec1' && kind !== 'ec')) throw new Error('x509: failed to parse private key');
  if (kind === 'ec' && !['prime256v1', 'secp384r1', 'secp521r1', 'secp224r1'].includes(curve ?? '')) throw new Error('x509: unknown elliptic curve');
  if (!['rsa', 'ec', 'ed25519', 'x25519'].includes(kind ?? '')) throw new Error('x509: PKCS#8 wrapping contained private key with unknown algorithm');
  return key;
}

/** getPrivateKeysFromPEMData: every private-key block (base64 of PEM accepted too). */
export function privateKeysFromPem(input: string): KeyObject[] {
  let data: Buffer = Buffer.from(input, 'utf8');
  try {
    data = goBase64Decode(input, false);
  } catch {
    // not base64: PEM text
  }
  const keys: KeyObject[] = [];
  while (data.length > 0) {
    const { block, rest } = goPemDecode(data);
    if (!block) break;
    data = rest;
    const type = PEM_TYPES[block.type];
    if (type) keys.push(parsePrivateKeyDer(block.bytes, type));
  }
  return keys;
}

const big = (base64url: string | undefined): number | bigint => {
  const value = BigInt(`0x${Buffer.from(base64url ?? '', 'base64url').toString('hex') || '0'}`);
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
};

/** The key as Go's encoding/json writes its Go type. */
export function goPrivateKeyJson(key: KeyObject): RegoValue {
  const jwk = key.asymmetricKeyType === 'ec' ? {} : key.export({ format: 'jwk' });
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return obj({
        N: big(jwk.n), E: big(jwk.e), D: big(jwk.d), Primes: [big(jwk.p), big(jwk.q)],
        Precomputed: obj({ Dp: big(jwk.dp), Dq: big(jwk.dq), Qinv: big(jwk.qi), CRTValues: [] }),
      });
    case 'ec':
      return ecPrivateKeyJson(key);
    case 'ed25519':
      // ed25519.PrivateKey is seed ‖ public key, a []byte.
      return Buffer.concat([Buffer.from(jwk.d ?? '', 'base64url'), Buffer.from(jwk.x ?? '', 'base64url')]).toString('base64');
    default:
      // *ecdh.PrivateKey has no exported fields.
      return obj({});
  }
}

/**
 * ecdsa.PrivateKey's JSON from the SEC 1 encoding (node exports no JWK for P-224):
 * ECPrivateKey ::= SEQUENCE { version, privateKey OCTET STRING, [0] parameters, [1] publicKey }.
 */
function ecPrivateKeyJson(key: KeyObject): RegoValue {
  const sec1 = new DerReader(key.export({ format: 'der', type: 'sec1' })).sequence('EC private key');
  sec1.read(TAG.INTEGER, 'EC private key version');
  const d = sec1.read(TAG.OCTET_STRING, 'EC private key').content;
  sec1.readOptional(contextTag(0, true));
  const point = new DerReader(sec1.read(contextTag(1, true), 'EC public key').content).read(TAG.BIT_STRING, 'EC public key').content.subarray(2);
  const half = point.length / 2;
  const number = (bytes: Buffer) => regoInteger(BigInt(`0x${bytes.toString('hex') || '0'}`));
  return obj({ Curve: obj({}), X: number(point.subarray(0, half)), Y: number(point.subarray(half)), D: number(d) });
}

/** crypto.parse_private_keys: null for "", [] without keys. */
export function parsePrivateKeys(input: string): RegoValue {
  if (input === '') return null;
  return privateKeysFromPem(input).map(goPrivateKeyJson);
}

/** crypto.x509.parse_rsa_private_key: the first private key as a JWK (null without keys). */
export function parseRsaPrivateKeyJwk(input: string): RegoValue {
  if (input === '') throw new Error('input PEM data was empty');
  const text = input.startsWith('-----BEGIN') ? input : goBase64Decode(input, false).toString('utf8');
  const first = privateKeysFromPem(text)[0];
  if (!first) return null;
  const jwk: JsonWebKey = first.export({ format: 'jwk' });
  return obj(Object.fromEntries(Object.entries(jwk).filter(([, v]) => typeof v === 'string')) as Record<string, string>);
}
