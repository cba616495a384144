/**
 * Host builtins: io.jwt.* — decoding, verification and signing of JWTs (RFC 7519, JWS compact
 * serialisation only), following OPA v1.19.1's topdown/tokens.go step for step: which inputs are
 * errors (an undefined result), which are `false` / `[false, {}, {}]`, and in which order the checks
 * run. Keys: jose-keys.ts; signatures: jws.ts.
 */
import { objectArg, stringArg } from './args.js';
import { goBytesToString } from './go-bytes.js';
import { goJsonMarshal } from './go-encoding.js';
import { TOKEN_ALGORITHMS, parseJwkSet, verificationKeys, type VerificationKey } from './jose-keys.js';
import { type Hash, hmac, jwsSign, macEqual, verifyEcdsaHalves, verifyEd25519, verifyRsa } from './jws.js';
import { decodePart, decodeSegment, jsonObject, parseHeader, splitToken, tokenHeader } from './jwt-token.js';
import { decodeVerify, secondsToNs } from './jwt-decode-verify.js';
import { BuiltinError, type BuiltinContext, type BuiltinFamily, type HostBuiltin, type RegoValue } from './types.js';

function fail(builtin: string, err: unknown): never {
  if (err instanceof BuiltinError) throw err;
  throw new BuiltinError(builtin, err instanceof Error ? err.message : String(err));
}

/** io.jwt.decode: [header, payload, signature as hex], no verification. */
/**
 * A policy that checks a decoded token's `exp` itself (io.jwt.decode + verify_* + time.now_ns)
 * must not have its allow reused from the cache past that `exp`: report it as the result's bound.
 */
function boundByExpiry(ctx: BuiltinContext, decoded: RegoValue): RegoValue {
  const payload = Array.isArray(decoded) ? decoded[1] : undefined;
  if (payload && typeof payload === 'object' && !Array.isArray(payload) && !(payload instanceof Set) && !(payload instanceof Map)) {
    const exp = Object.hasOwn(payload, 'exp') ? payload.exp : undefined;
    const ns = typeof exp === 'number' || typeof exp === 'bigint' ? secondsToNs(exp) : undefined;
    if (ns !== undefined) ctx.validUntilNs(ns);
  }
  return decoded;
}

function decode(builtin: string, jwt: RegoValue | undefined): RegoValue {
  const token = splitToken(builtin, jwt);
  const header = tokenHeader(token);
  const payloadBytes = decodePart(token.payload, 'payload');
  if (Object.hasOwn(header, 'cty')) {
    const cty = header.cty;
    // OPA reads cty as a string unchecked (a Go panic otherwise); here that is an error.
    if (typeof cty !== 'string') throw new Error('cty: must be a string');
    if (cty === 'JWT') {
      // A nested token, quoted as jwt.io does: trim the quotes and decode the inner token.
      return decode(builtin, goBytesToString(payloadBytes).replace(/^["']+|["']+$/g, ''));
    }
  }
  const payload = jsonObject(payloadBytes);
  return [header, payload, decodePart(token.signature, 'signature').toString('hex')];
}

type AsymmetricCheck = (key: VerificationKey, data: Buffer, signature: Buffer) => boolean;

/** builtinJWTVerify: a kid that names a key decides alone; otherwise any key (alg-compatible) may verify. */
function verifyAsymmetric(builtin: string, jwt: RegoValue | undefined, material: RegoValue | undefined, check: AsymmetricCheck): boolean {
  const token = splitToken(builtin, jwt);
  const keys = verificationKeys(stringArg(builtin, 2, material));
  const signature = decodeSegment(token.signature);
  const header = parseHeader(tokenHeader(token));
  const data = Buffer.from(`${token.header}.${token.payload}`);
  // Go type-asserts the exported key: a private JWK is not a public key.
  const verifies = (key: VerificationKey) => !key.isPrivate && check(key, data, signature);
  if (header.kid !== '') {
    const named = keys.find((key) => key.kid === header.kid);
    if (named) return verifies(named);
  }
  return keys.some((key) => (key.alg === '' || key.alg === header.alg) && verifies(key));
}

function verifyHmac(builtin: string, hash: Hash, jwt: RegoValue | undefined, secret: RegoValue | undefined): boolean {
  const text = stringArg(builtin, 1, jwt);
  const key = stringArg(builtin, 2, secret);
  const token = splitToken(builtin, text);
  const expected = hmac(hash, Buffer.from(key), Buffer.from(`${token.header}.${token.payload}`));
  return macEqual(decodeSegment(token.signature), expected);
}

/** encode_sign's common part (commonBuiltinJWTEncodeSign). */
function encodeSign(headers: string, payload: string, jwkSource: string): string {
  const keys = parseJwkSet(jwkSource, 'failed to parse JWK');
  const first = keys[0];
  if (!first) throw new Error('no keys found in JWK set');
  let parsedHeaders: unknown;
  try {
    parsedHeaders = JSON.parse(headers);
  } catch {
    parsedHeaders = undefined;
  }
  const field = (name: string): string | undefined => {
    if (parsedHeaders === null || typeof parsedHeaders !== 'object' || Array.isArray(parsedHeaders)) return undefined;
    const value = (parsedHeaders as Record<string, unknown>)[name];
    return typeof value === 'string' ? value : undefined;
  };
  const alg = field('alg');
  if (alg === undefined) throw new Error(`missing or invalid 'alg' header`);
  if (!TOKEN_ALGORITHMS.has(alg)) throw new Error(`unknown JWS algorithm: ${alg}`);
  const typ = field('typ');
  if ((typ === undefined || typ === 'JWT') && !isJson(payload)) throw new Error('type is JWT but payload is not JSON');
  const signingInput = `${Buffer.from(headers).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
  return `${signingInput}.${jwsSign(first.key, alg, Buffer.from(signingInput)).toString('base64url')}`;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function builtin(name: string, fn: (ctx: BuiltinContext, ...args: (RegoValue | undefined)[]) => RegoValue, extra: Partial<HostBuiltin> = {}): [string, HostBuiltin] {
  return [name, {
    ...extra,
    fn: (ctx, ...args) => {
      try {
        return fn(ctx, ...args);
      } catch (err) {
        fail(name, err);
      }
    },
  }];
}

const ASYMMETRIC: [string, AsymmetricCheck][] = [
  ['rs256', (k, d, s) => verifyRsa(k, 'sha256', d, s, false)],
  ['rs384', (k, d, s) => verifyRsa(k, 'sha384', d, s, false)],
  ['rs512', (k, d, s) => verifyRsa(k, 'sha512', d, s, false)],
  ['ps256', (k, d, s) => verifyRsa(k, 'sha256', d, s, 'auto')],
  ['ps384', (k, d, s) => verifyRsa(k, 'sha384', d, s, 'auto')],
  ['ps512', (k, d, s) => verifyRsa(k, 'sha512', d, s, 'auto')],
  ['es256', (k, d, s) => verifyEcdsaHalves(k, 'sha256', d, s)],
  ['es384', (k, d, s) => verifyEcdsaHalves(k, 'sha384', d, s)],
  ['es512', (k, d, s) => verifyEcdsaHalves(k, 'sha512', d, s)],
  ['eddsa', (k, d, s) => verifyEd25519(k, d, s)],
];

const NONDETERMINISTIC_SIGNING = 'Signatures with ES*/PS* are randomised, like OPA\'s: compare decoded tokens, not encoded ones.';

export const jwtBuiltins: BuiltinFamily = Object.fromEntries([
  builtin('io.jwt.decode', (ctx, jwt) => boundByExpiry(ctx, decode('io.jwt.decode', jwt)), {
    note: 'A non-string `cty` header, which makes OPA panic, is an error (undefined). A cached decision is never reused past a numeric `exp` claim of a token it decoded.',
  }),
  ...ASYMMETRIC.map(([alg, check]) => builtin(`io.jwt.verify_${alg}`, (_ctx, jwt, key) => verifyAsymmetric(`io.jwt.verify_${alg}`, jwt, key, check))),
  ...(['256', '384', '512'] as const).map((bits) => builtin(`io.jwt.verify_hs${bits}`, (_ctx, jwt, secret) => verifyHmac(`io.jwt.verify_hs${bits}`, `sha${bits}`, jwt, secret))),
  builtin('io.jwt.decode_verify', (ctx, jwt, constraints) => decodeVerify(ctx, jwt, objectArg('io.jwt.decode_verify', 2, constraints)), {
    nondeterministic: true,
    note: 'Without a `time` constraint the evaluation\'s clock is used, and a cached decision is never reused past the token\'s `exp` (or its `nbf` while it is not yet valid). A non-string `iss`, which makes OPA panic, is an error (undefined).',
  }),
  builtin('io.jwt.encode_sign', (_ctx, headers, payload, key) => encodeSign(goJsonMarshal(headers ?? null), goJsonMarshal(payload ?? null), goJsonMarshal(key ?? null)), {
    nondeterministic: true,
    note: `${NONDETERMINISTIC_SIGNING} Numbers are written in their canonical form (1.0 as 1, 1e21 as 1e+21) where OPA keeps the policy's literal text: the claims are equal, the bytes (and an HMAC/RSA signature) differ.`,
  }),
  builtin('io.jwt.encode_sign_raw', (_ctx, headers, payload, key) => {
    const jwk = stringArg('io.jwt.encode_sign_raw', 3, key);
    return encodeSign(stringArg('io.jwt.encode_sign_raw', 1, headers), stringArg('io.jwt.encode_sign_raw', 2, payload), jwk);
  }, { nondeterministic: true, note: NONDETERMINISTIC_SIGNING }),
]);
