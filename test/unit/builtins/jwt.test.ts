/**
 * io.jwt.* called directly: the evaluation clock and the cache horizon of decode_verify
 * (validUntilNs), the bounded key memo, signing round trips for the randomised algorithms, and the
 * Go encodings underneath (base64url, pem.Decode, json.Marshal). Exactness against OPA over many
 * generated tokens is test/integration/builtins-jwt.test.ts.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { goBase64Decode, goJsonMarshal, goPemDecode, opaBase64UrlDecode } from '../../../src/policy/builtins/go-encoding.js';
import { keyMemoSize, verificationKeys } from '../../../src/policy/builtins/jose-keys.js';
import { jwtBuiltins } from '../../../src/policy/builtins/jwt.js';
import type { RegoValue } from '../../../src/policy/builtins/types.js';
import { jwkOf, signToken, testContext } from '../../support/jose-fixtures.js';

const NOW_S = 1_700_000_000;
const NOW_NS = BigInt(NOW_S) * 1_000_000_000n;
const SECRET = 'secret';

function decodeVerify(token: string, constraints: Record<string, RegoValue>, ctx = testContext(NOW_NS)): RegoValue | undefined {
  return jwtBuiltins['io.jwt.decode_verify']!.fn(ctx, token, Object.assign(Object.create(null), constraints));
}

const hs = (claims: Record<string, unknown>) => signToken({ alg: 'HS256', typ: 'JWT' }, claims, 'HS256', SECRET);
const valid = (result: RegoValue | undefined) => (result as RegoValue[])[0];

describe('io.jwt.decode_verify and the clock', () => {
  it('checks exp and nbf against the evaluation\'s time when no time constraint is given', () => {
    expect(valid(decodeVerify(hs({ exp: NOW_S + 1 }), { secret: SECRET }))).toBe(true);
    expect(valid(decodeVerify(hs({ exp: NOW_S }), { secret: SECRET }))).toBe(false);
    expect(valid(decodeVerify(hs({ nbf: NOW_S }), { secret: SECRET }))).toBe(true);
    expect(valid(decodeVerify(hs({ nbf: NOW_S + 1 }), { secret: SECRET }))).toBe(false);
  });

  it('bounds the reuse of an allow by the token\'s exp, and of a not-yet-valid deny by its nbf', () => {
    const ctx = testContext(NOW_NS);
    expect(valid(decodeVerify(hs({ exp: NOW_S + 30.5, nbf: NOW_S - 5 }), { secret: SECRET }, ctx))).toBe(true);
    expect(ctx.validUntil).toEqual([NOW_NS + 30_500_000_000n]);

    const early = testContext(NOW_NS);
    expect(valid(decodeVerify(hs({ nbf: NOW_S + 60, exp: NOW_S + 600 }), { secret: SECRET }, early))).toBe(false);
    expect(early.validUntil).toEqual([NOW_NS + 60_000_000_000n]);

    // An expired token stays expired, and a token without exp does not expire: no horizon.
    const expired = testContext(NOW_NS);
    decodeVerify(hs({ exp: NOW_S - 1 }), { secret: SECRET }, expired);
    decodeVerify(hs({ sub: 'x' }), { secret: SECRET }, expired);
    expect(expired.validUntil).toEqual([]);
  });

  it('does not read the clock when the policy passes a time, and still bounds the cache by exp', () => {
    const ctx = testContext(NOW_NS);
    ctx.nowNs = () => {
      throw new Error('the clock was read');
    };
    expect(valid(decodeVerify(hs({ exp: NOW_S + 1 }), { secret: SECRET, time: NOW_NS }, ctx))).toBe(true);
    expect(ctx.validUntil).toEqual([BigInt(NOW_S + 1) * 1_000_000_000n]);
  });

  it('is a builtin error (undefined) for malformed constraints and tokens, [false, {}, {}] for a failed check', () => {
    expect(() => decodeVerify(hs({}), { secret: SECRET, foo: 1 })).toThrow(/unknown token validation constraint: foo/);
    expect(() => decodeVerify(hs({}), {})).toThrow(/no key constraint/);
    expect(() => decodeVerify('a.b', { secret: SECRET })).toThrow(/encoded JWT must have 3 sections, found 2/);
    expect(() => decodeVerify(hs({ iss: 5 }), { secret: SECRET, iss: 'x' })).toThrow(/iss/);
    expect(decodeVerify(hs({}), { secret: 'wrong' })).toEqual([false, {}, {}]);
  });

  it('keeps integers beyond 2^53 in the payload exact', () => {
    const token = signToken({ alg: 'HS256' }, '{"n":123456789012345678901}', 'HS256', SECRET);
    expect((decodeVerify(token, { secret: SECRET }) as RegoValue[])[2]).toEqual({ n: 123456789012345678901n });
  });

  it('is marked nondeterministic, as are the signing builtins', () => {
    for (const name of ['io.jwt.decode_verify', 'io.jwt.encode_sign', 'io.jwt.encode_sign_raw']) expect(jwtBuiltins[name]!.nondeterministic).toBe(true);
    expect(jwtBuiltins['io.jwt.decode']!.nondeterministic).toBeFalsy();
  });
});

describe('io.jwt.encode_sign with randomised signatures', () => {
  for (const [alg, pair] of [
    ['ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' })], ['ES384', generateKeyPairSync('ec', { namedCurve: 'P-384' })],
    ['ES512', generateKeyPairSync('ec', { namedCurve: 'P-521' })], ['PS256', generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['PS512', generateKeyPairSync('rsa', { modulusLength: 2048 })],
  ] as const) {
    it(`${alg}: a token that io.jwt.decode_verify accepts with the public key`, () => {
      const token = jwtBuiltins['io.jwt.encode_sign']!.fn(testContext(), { alg }, { sub: 'alice' }, jwkOf(pair.privateKey) as RegoValue) as string;
      const cert = JSON.stringify(jwkOf(pair.publicKey));
      expect(decodeVerify(token, { cert })).toEqual([true, { alg }, { sub: 'alice' }]);
      const other = jwtBuiltins['io.jwt.encode_sign']!.fn(testContext(), { alg }, { sub: 'alice' }, jwkOf(pair.privateKey) as RegoValue);
      expect(other).not.toBe(token);
    });
  }
});

describe('key material memo', () => {
  it('parses a key set once and keeps at most 256 materials', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwks = JSON.stringify({ keys: [jwkOf(publicKey, { kid: 'a' })] });
    expect(verificationKeys(jwks)).toBe(verificationKeys(jwks));
    for (let i = 0; i < 300; i++) expect(() => verificationKeys(`{"kty":"oct","k":"${Buffer.from(String(i)).toString('base64url')}"}`)).not.toThrow();
    expect(keyMemoSize()).toBeLessThanOrEqual(256);
  });

  it('memoises failures too, with OPA\'s message', () => {
    expect(() => verificationKeys('junk')).toThrow(/failed to parse a JWK key \(set\)/);
    expect(() => verificationKeys('junk')).toThrow(/failed to parse a JWK key \(set\)/);
  });
});

describe('Go encodings', () => {
  it('base64url as OPA pads and Go decodes it', () => {
    expect(opaBase64UrlDecode('e30').toString()).toBe('{}');
    expect(opaBase64UrlDecode('e30=').toString()).toBe('{}');
    expect(opaBase64UrlDecode('e3\r\n0=').toString()).toBe('{}'); // as opa eval: CR/LF skipped by Go's decoder
    expect(() => opaBase64UrlDecode('e30==')).toThrow();
    expect(() => opaBase64UrlDecode('abcde')).toThrow(/illegal base64url string/);
    expect(() => opaBase64UrlDecode('ab+/')).toThrow();
    expect(() => goBase64Decode('ab-_', false)).toThrow();
  });

  it('pem.Decode: text before the block skipped, headers read, the rest after the END line', () => {
    const body = Buffer.from('hello').toString('base64');
    const { block, rest } = goPemDecode(Buffer.from(`junk\n-----BEGIN X-----\nA: b\n\n${body}\n-----END X-----\r\ntail`));
    expect(block?.type).toBe('X');
    expect(block?.headers.get('A')).toBe('b');
    expect(block?.bytes.toString()).toBe('hello');
    expect(rest.toString()).toBe('tail');
    expect(goPemDecode(Buffer.from(`-----BEGIN X-----\n${body}\n-----END Y-----\n`)).block).toBeUndefined();
    expect(goPemDecode(Buffer.from(`-----BEGIN X-----\n!!\n-----END X-----\n`)).block).toBeUndefined();
  });

  it('json.Marshal: keys sorted bytewise, HTML and line separators escaped', () => {
    expect(goJsonMarshal(Object.assign(Object.create(null), { b: 1, a: ['<&>', '\u2028'], é: null }))).toBe('{"a":["\\u003c\\u0026\\u003e","\\u2028"],"b":1,"é":null}');
    expect(goJsonMarshal(new Set([1, 2]))).toBe('[1,2]');
  });
});

describe('io.jwt.verify_es256 and the JWK coordinate size', () => {
  it('refuses an EC JWK whose x drops its leading zero byte (same point, as OPA does), and accepts it in full', () => {
    // A P-256 key whose x starts with a zero byte (one in 256): the short encoding is the same point.
    let pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    while (Buffer.from(jwkOf(pair.publicKey).x as string, 'base64url')[0] !== 0) pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = jwkOf(pair.publicKey) as Record<string, string>;
    const token = signToken({ alg: 'ES256' }, { sub: 'alice' }, 'ES256', pair.privateKey);
    const verify = (key: Record<string, string>) => jwtBuiltins['io.jwt.verify_es256']!.fn(testContext(NOW_NS), token, JSON.stringify(key));
    expect(verify(jwk)).toBe(true);
    const short = { ...jwk, x: Buffer.from(jwk.x!, 'base64url').subarray(1).toString('base64url') };
    expect(() => verify(short)).toThrow(/coordinates are 32 bytes/);
  });
});
