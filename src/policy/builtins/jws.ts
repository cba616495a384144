/**
 * JWS signatures (RFC 7515/7518) with node:crypto, in the two flavours OPA v1.19.1 has:
 * - the io.jwt.verify_* builtins call Go's crypto directly (topdown/tokens.go): PSS with the salt
 *   length read from the signature, ECDSA r‖s split in two halves of any length, and a key that
 *   must be a public key of the right type;
 * - io.jwt.decode_verify and io.jwt.encode_sign go through lestrrat-go/jwx's jwsbb/dsig: PSS salt
 *   as long as the hash, ECDSA signatures exactly twice the curve size, private JWKs usable through
 *   their public half, `oct` JWKs as HMAC secrets.
 * Go (as built with go 1.25 semantics) refuses RSA keys under 1024 bits; so does this module.
 */
import { constants, createHmac, type KeyObject, sign, timingSafeEqual, verify } from 'node:crypto';
import type { JoseKey } from './jose-keys.js';

export type Hash = 'sha256' | 'sha384' | 'sha512';

const MIN_RSA_BITS = 1024;

const ALGORITHMS: Record<string, { family: 'HS' | 'RS' | 'PS' | 'ES' | 'EdDSA'; hash: Hash }> = {
  HS256: { family: 'HS', hash: 'sha256' }, HS384: { family: 'HS', hash: 'sha384' }, HS512: { family: 'HS', hash: 'sha512' },
  RS256: { family: 'RS', hash: 'sha256' }, RS384: { family: 'RS', hash: 'sha384' }, RS512: { family: 'RS', hash: 'sha512' },
  PS256: { family: 'PS', hash: 'sha256' }, PS384: { family: 'PS', hash: 'sha384' }, PS512: { family: 'PS', hash: 'sha512' },
  ES256: { family: 'ES', hash: 'sha256' }, ES384: { family: 'ES', hash: 'sha384' }, ES512: { family: 'ES', hash: 'sha512' },
  // jwsbb also maps the fully-specified RFC 9864 name to EdDSA.
  EdDSA: { family: 'EdDSA', hash: 'sha512' }, Ed25519: { family: 'EdDSA', hash: 'sha512' },
};

const HASH_BYTES: Record<Hash, number> = { sha256: 32, sha384: 48, sha512: 64 };

function safely(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}

export function verifyRsa(key: JoseKey, hash: Hash, data: Buffer, signature: Buffer, pss: 'auto' | 'hash' | false): boolean {
  if (key.kind !== 'rsa' || key.size < MIN_RSA_BITS || signature.length !== Math.ceil(key.size / 8)) return false;
  if (pss === false) return safely(() => verify(hash, data, key.key, signature));
  const saltLength = pss === 'auto' ? constants.RSA_PSS_SALTLEN_AUTO : HASH_BYTES[hash];
  return safely(() => verify(hash, data, { key: key.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, signature));
}

/** DER INTEGER of an unsigned big-endian number. */
function derInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  let body = bytes.length === 0 ? Buffer.from([0]) : bytes.subarray(start);
  if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return Buffer.concat([Buffer.from([0x02]), derLength(body.length), body]);
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Go's verifyES: r = first half, s = the rest (any length), ecdsa.Verify. */
export function verifyEcdsaHalves(key: JoseKey, hash: Hash, data: Buffer, signature: Buffer): boolean {
  if (key.kind !== 'ec') return false;
  const half = Math.floor(signature.length / 2);
  const body = Buffer.concat([derInteger(signature.subarray(0, half)), derInteger(signature.subarray(half))]);
  const der = Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
  return safely(() => verify(hash, data, { key: key.key, dsaEncoding: 'der' }, der));
}

export function verifyEd25519(key: JoseKey, data: Buffer, signature: Buffer): boolean {
  if (key.kind !== 'ed25519' || signature.length !== 64) return false;
  return safely(() => verify(null, data, key.key, signature));
}

export function hmac(hash: Hash, secret: Buffer | KeyObject, data: Buffer): Buffer {
  return createHmac(hash, secret).update(data).digest();
}

/** hmac.Equal: constant time for equal lengths. */
export function macEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * jwsbb.Verify(key, alg, data, signature) as io.jwt.decode_verify uses it: true when the signature
 * verifies; an unknown algorithm, a key of the wrong type or a bad signature are all false.
 */
export function jwsVerify(key: JoseKey | Buffer, alg: string, data: Buffer, signature: Buffer): boolean {
  const algorithm = Object.hasOwn(ALGORITHMS, alg) ? ALGORITHMS[alg] : undefined;
  if (!algorithm) return false;
  if (Buffer.isBuffer(key)) {
    return algorithm.family === 'HS' && key.length > 0 && macEqual(signature, hmac(algorithm.hash, key, data));
  }
  switch (algorithm.family) {
    case 'HS':
      return key.kind === 'oct' && (key.key.symmetricKeySize ?? 0) > 0 && macEqual(signature, hmac(algorithm.hash, key.key, data));
    case 'RS':
      return verifyRsa(key, algorithm.hash, data, signature, false);
    case 'PS':
      return verifyRsa(key, algorithm.hash, data, signature, 'hash');
    case 'ES':
      if (key.kind !== 'ec' || signature.length !== 2 * key.size) return false;
      return safely(() => verify(algorithm.hash, data, { key: key.key, dsaEncoding: 'ieee-p1363' }, signature));
    case 'EdDSA':
      return verifyEd25519(key, data, signature);
  }
}

/**
 * jwsbb.Sign(key, alg, data) as io.jwt.encode_sign uses it.
 * @throws Error when the key cannot sign with `alg` (Go returns an error there too).
 */
export function jwsSign(key: JoseKey, alg: string, data: Buffer): Buffer {
  const algorithm = ALGORITHMS[alg];
  if (!algorithm) throw new Error(`unknown JWS algorithm: ${alg}`);
  const privateKey = key.privateKey;
  switch (algorithm.family) {
    case 'HS':
      if (key.kind !== 'oct' || !privateKey) throw new Error(`jwsbb.Sign: invalid key type. []byte is required`);
      if ((privateKey.symmetricKeySize ?? 0) === 0) throw new Error('dsig.toHMACKey: missing key while signing payload');
      return hmac(algorithm.hash, privateKey, data);
    case 'RS':
    case 'PS':
      if (key.kind !== 'rsa' || !privateKey) throw new Error('jwsbb.Sign: invalid key type. *rsa.PrivateKey is required');
      if (key.size < MIN_RSA_BITS) throw new Error(`crypto/rsa: ${key.size}-bit keys are insecure (see https://go.dev/pkg/crypto/rsa#hdr-Minimum_key_size)`);
      return algorithm.family === 'RS'
        ? sign(algorithm.hash, data, privateKey)
        : sign(algorithm.hash, data, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: HASH_BYTES[algorithm.hash] });
    case 'ES':
      if (key.kind !== 'ec' || !privateKey) throw new Error('jwsbb.Sign: invalid key type. *ecdsa.PrivateKey is required');
      return sign(algorithm.hash, data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    case 'EdDSA':
      if (key.kind !== 'ed25519' || !privateKey) throw new Error('jwsbb.Sign: invalid key type. ed25519.PrivateKey is required');
      return sign(null, data, privateKey);
  }
}
