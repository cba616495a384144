/**
 * Verification keys for the io.jwt builtins, read as OPA v1.19.1 reads them
 * (topdown/tokens.go getKeysFromCertOrJWK): a PEM certificate or PEM public key (exactly one block,
 * nothing after it), else a JWK or a JWK set (RFC 7517) as lestrrat-go/jwx parses it; JWKS keys
 * whose `alg` OPA does not know are skipped. Key material is parsed once and memoised (bounded),
 * errors included, so a policy verifying every request against the same JWKS parses it once.
 */
import { createPrivateKey, createPublicKey, createSecretKey, type JsonWebKey, type KeyObject, X509Certificate } from 'node:crypto';
import { goBase64Decode, goPemDecode } from './go-encoding.js';
import { parseCertificate } from './x509-cert.js';
import { BoundedMemo } from './bounded-memo.js';

/** The JWS algorithms OPA knows (tokens.go tokenAlgorithms). */
export const TOKEN_ALGORITHMS: ReadonlySet<string> = new Set([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'HS256', 'HS384', 'HS512', 'EdDSA',
]);

export type KeyKind = 'rsa' | 'ec' | 'ed25519' | 'oct' | 'other';

/** One key OPA would hold: the Go value's type decides which algorithms may use it. */
export interface JoseKey {
  kind: KeyKind;
  /** The public half (the secret for `oct`). */
  key: KeyObject;
  /** A private JWK: Go holds *rsa.PrivateKey etc., which the verify_* builtins refuse. */
  isPrivate: boolean;
  /** The private key itself, for io.jwt.encode_sign. */
  privateKey?: KeyObject;
  /**
   * RSA modulus bits (0 for an exponent Go refuses), or EC field bytes (the fixed half-length of a
   * JWS ECDSA signature).
   */
  size: number;
}

export interface VerificationKey extends JoseKey {
  alg: string;
  kid: string;
}

/** Parsed key material (or OPA's parse error), bounded by count and total size (a JWKS is a few KB). */
const memo = new BoundedMemo<VerificationKey[] | Error>(256, 4 << 20);

/** How many key materials are memoised (for tests: never more than MEMO_LIMIT). */
export function keyMemoSize(): number {
  return memo.size;
}

/** The keys in `material`. @throws Error with OPA's message when OPA's parse fails. */
export function verificationKeys(material: string): VerificationKey[] {
  const keys = memo.get(material, () => {
    try {
      return parseVerificationKeys(material);
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  });
  if (keys instanceof Error) throw keys;
  return keys;
}

function parseVerificationKeys(material: string): VerificationKey[] {
  const { block, rest } = goPemDecode(Buffer.from(material, 'utf8'));
  if (block) {
    if (rest.length > 0) throw new Error('extra data after a PEM certificate block');
    if (block.type === 'CERTIFICATE') {
      let key: KeyObject;
      try {
        key = new X509Certificate(block.bytes).publicKey;
      } catch (err) {
        throw new Error(`failed to parse a PEM certificate: ${(err as Error).message}`);
      }
      return [{ ...describePublic(key), alg: '', kid: '' }];
    }
    if (block.type === 'PUBLIC KEY') {
      let key: KeyObject;
      try {
        key = createPublicKey({ key: block.bytes, format: 'der', type: 'spki' });
      } catch (err) {
        throw new Error(`failed to parse a PEM public key: ${(err as Error).message}`);
      }
      return [{ ...describePublic(key), alg: '', kid: '' }];
    }
    throw new Error('failed to extract a Key from the PEM certificate');
  }
  const keys: VerificationKey[] = [];
  for (const jwk of parseJwkSet(material, 'failed to parse a JWK key (set)')) {
    const alg = jwk.alg ?? '';
    if (alg !== '' && !TOKEN_ALGORITHMS.has(alg)) continue;
    keys.push({ ...jwk.key, alg, kid: jwk.kid ?? '' });
  }
  return keys;
}

interface ParsedJwk {
  key: JoseKey;
  alg?: string;
  kid?: string;
}

/** jwk.Parse: a JWK set (`{"keys": [...]}`, every key must parse) or one JWK. */
export function parseJwkSet(text: string, context: string): ParsedJwk[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`${context}: ${(err as Error).message}`);
  }
  if (doc !== null && typeof doc === 'object' && !Array.isArray(doc) && Object.hasOwn(doc, 'keys')) {
    const keys = (doc as { keys: unknown }).keys;
    if (!Array.isArray(keys)) throw new Error(`${context}: failed to decode "keys": expected '['`);
    return keys.map((jwk, i) => {
      try {
        return parseJwk(jwk);
      } catch (err) {
        throw new Error(`${context}: failed to decode key #${i} in "keys": ${(err as Error).message}`);
      }
    });
  }
  try {
    return [parseJwk(doc)];
  } catch (err) {
    throw new Error(`${context}: failed to parse sole key: ${(err as Error).message}`);
  }
}

function optionalString(jwk: Record<string, unknown>, field: string): string | undefined {
  const value = jwk[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new Error(`invalid "${field}": expected a string`);
  return value;
}

const CURVES: Record<string, number> = { 'P-256': 32, 'P-384': 48, 'P-521': 66 };

/**
 * RFC 7518 §6.2.1.2: an EC public key's x and y are each the full size of a coordinate of the
 * curve (leading zero bytes kept). OPA refuses a shorter encoding (the key then verifies nothing);
 * Node's JWK import would accept it, so it is checked here.
 */
function checkCoordinates(jwk: Record<string, unknown>, bytes: number): void {
  for (const field of ['x', 'y']) {
    const value = optionalString(jwk, field);
    if (value !== undefined && Buffer.from(value, 'base64url').length !== bytes) {
      throw new Error(`invalid "${field}": ${String(jwk.crv)} coordinates are ${bytes} bytes`);
    }
  }
}

function parseJwk(value: unknown): ParsedJwk {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('a JWK must be an object');
  const jwk = value as Record<string, unknown>;
  const kty = optionalString(jwk, 'kty');
  const alg = optionalString(jwk, 'alg');
  const kid = optionalString(jwk, 'kid');
  const hasPrivate = Object.hasOwn(jwk, 'd');
  checkCertificateChain(jwk.x5c);
  let key: JoseKey;
  try {
    if (kty === 'RSA' && (!jwk.n || !jwk.e)) throw new Error(`required field ${jwk.e ? 'n' : 'e'} is missing`);
    switch (kty) {
      case 'RSA':
      case 'EC':
      case 'OKP': {
        if (kty === 'EC' && !(String(jwk.crv) in CURVES)) throw new Error(`unsupported curve ${String(jwk.crv)}`);
        if (kty === 'EC') checkCoordinates(jwk, CURVES[String(jwk.crv)]!);
        if (kty === 'OKP' && jwk.crv !== 'Ed25519' && jwk.crv !== 'X25519') throw new Error(`unsupported curve ${String(jwk.crv)}`);
        if (hasPrivate) {
          const privateKey = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
          key = { ...describePublic(createPublicKey(privateKey)), isPrivate: true, privateKey };
        } else {
          key = describePublic(createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }));
        }
        break;
      }
      case 'oct': {
        const k = optionalString(jwk, 'k');
        if (k === undefined) throw new Error('required field k is missing');
        const secret = createSecretKey(Buffer.from(k, 'base64url'));
        key = { kind: 'oct', key: secret, isPrivate: false, privateKey: secret, size: 0 };
        break;
      }
      case undefined:
        throw new Error('missing "kty" field');
      default:
        throw new Error(`unsupported "kty" ${kty}`);
    }
  } catch (err) {
    throw new Error(`failed to parse key: ${(err as Error).message}`);
  }
  return { key, alg, kid };
}

/**
 * jwx reads `x5c` as standard base64 (ASCII whitespace ignored) of certificates Go's x509 parses;
 * it does not check them against the key.
 */
function checkCertificateChain(x5c: unknown): void {
  if (x5c === undefined) return;
  if (!Array.isArray(x5c)) throw new Error('failed to unmarshal certificate chain: expected JSON array');
  x5c.forEach((entry, i) => {
    if (typeof entry !== 'string') throw new Error(`failed to decode certificate at index ${i}`);
    try {
      const der = goBase64Decode(entry.replace(/[ \t\r\n\v\f]/g, ''), false);
      if (parseCertificate(der).raw.length !== der.length) throw new Error('x509: trailing data');
    } catch (err) {
      throw new Error(`failed to decode certificate at index ${i}: ${(err as Error).message}`);
    }
  });
}

/** The kind and size of a public key, as Go's type switch would see it. */
function describePublic(key: KeyObject): JoseKey {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa': {
      // Go's crypto/rsa refuses exponents below 2, even ones and ones beyond 2^31-1 (go1.26 checkPublicKey).
      const e = details.publicExponent ?? 0n;
      const size = e >= 2n && e % 2n === 1n && e <= 2147483647n ? details.modulusLength ?? 0 : 0;
      return { kind: 'rsa', key, isPrivate: false, size };
    }
    case 'ec': {
      const bytes = { prime256v1: 32, secp384r1: 48, secp521r1: 66, secp224r1: 28 }[details.namedCurve ?? ''];
      // Go's crypto/x509 and jwx know only the NIST curves.
      if (!bytes) throw new Error('x509: unsupported elliptic curve');
      return { kind: 'ec', key, isPrivate: false, size: bytes };
    }
    case 'ed25519':
      return { kind: 'ed25519', key, isPrivate: false, size: 0 };
    default:
      return { kind: 'other', key, isPrivate: false, size: 0 };
  }
}
