/**
 * io.jwt.* against OPA: hundreds of generated calls (every algorithm, PEM keys and certificates,
 * JWKs and JWK sets with kid matching, expired / not-yet-valid / wrong audience or issuer / bad
 * signature / alg none / malformed tokens) evaluated by `opa eval` in one run and by gatehouse's
 * host functions; the results (undefined for errors) must be identical.
 */
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RegoValue } from '../../src/policy/builtins/types.js';
import { callHost, ecKey, edKey, exactJson, jwkOf, mismatches, opaEvalCalls, plain, rsaKey, seeded, selfSigned, signToken, testContext, wasmEvalCalls, type TestKey } from '../support/jose-fixtures.js';
import { tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
const NOW = 1_700_000_000_000_000_000n;
const SECONDS = 1_700_000_000;

interface Call {
  name: string;
  args: RegoValue[];
  label: string;
}

function tamper(token: string): string {
  const dot = token.lastIndexOf('.');
  const sig = Buffer.from(token.slice(dot + 1), 'base64url');
  if (sig.length > 0) sig[sig.length - 1] ^= 1;
  return `${token.slice(0, dot + 1)}${sig.toString('base64url')}`;
}

describe.skipIf(tool.skip)('io.jwt.* against opa eval', () => {
  const calls: Call[] = [];
  let oracle: Map<number, unknown>;
  let wasm: Map<number, unknown>;

  beforeAll(async () => {
    const dir = tempDir('gatehouse-jwt-');
    const keys: Record<string, TestKey> = {
      rsa: rsaKey('rsa', 2048), rsa2: rsaKey('rsa2', 2048), rsaSmall: rsaKey('rsaSmall', 512),
      p256: ecKey('p256', 'P-256'), p384: ecKey('p384', 'P-384'), p521: ecKey('p521', 'P-521'), ed: edKey('ed'),
    };
    const certs = { rsa: selfSigned(dir, keys.rsa!), p256: selfSigned(dir, keys.p256!), ed: selfSigned(dir, keys.ed!) };
    const jwks = JSON.stringify({
      keys: [
        jwkOf(keys.rsa2!.publicKey, { kid: 'two', alg: 'RS256' }),
        jwkOf(keys.rsa!.publicKey, { kid: 'one', alg: 'RS256' }),
        jwkOf(keys.p256!.publicKey, { kid: 'ec', alg: 'ES256' }),
        jwkOf(keys.ed!.publicKey, { kid: 'ed' }),
        jwkOf(keys.p384!.publicKey, { kid: 'enc', alg: 'ECDH-ES' }),
      ],
    });
    const add = (label: string, name: string, ...args: RegoValue[]) => calls.push({ label, name, args });

    const algs: [string, TestKey, string][] = [
      ['RS256', keys.rsa!, 'rs256'], ['RS384', keys.rsa!, 'rs384'], ['RS512', keys.rsa!, 'rs512'],
      ['PS256', keys.rsa!, 'ps256'], ['PS384', keys.rsa!, 'ps384'], ['PS512', keys.rsa!, 'ps512'],
      ['ES256', keys.p256!, 'es256'], ['ES384', keys.p384!, 'es384'], ['ES512', keys.p521!, 'es512'],
      ['EdDSA', keys.ed!, 'eddsa'],
    ];
    const payload = { iss: 'issuer', sub: 'alice', aud: 'svc', exp: SECONDS + 3600, nbf: SECONDS - 60, n: 12345678901234567890n.toString() };
    for (const [alg, key, fn] of algs) {
      const good = signToken({ alg, typ: 'JWT' }, payload, alg, key.privateKey);
      const other = alg.startsWith('E') && alg !== 'EdDSA' ? keys.p256 === key ? keys.p384! : keys.p256! : alg === 'EdDSA' ? edKey('ed2') : keys.rsa2!;
      const materials: [string, string][] = [
        ['spki', key.spki], ['other spki', other.spki], ['jwk', JSON.stringify(jwkOf(key.publicKey))],
        ['private jwk', JSON.stringify(jwkOf(key.privateKey))], ['jwks', jwks],
        ['jwk wrong alg', JSON.stringify(jwkOf(key.publicKey, { alg: 'HS256' }))],
        ['spki + newline', `${key.spki}\n`], ['junk before pem', `junk\n${key.spki}`],
      ];
      for (const [label, material] of materials) {
        add(`verify_${fn} ${label}`, `io.jwt.verify_${fn}`, good, material);
        add(`verify_${fn} tampered ${label}`, `io.jwt.verify_${fn}`, tamper(good), material);
        add(`decode_verify ${alg} ${label}`, 'io.jwt.decode_verify', good, { cert: material, time: NOW });
        add(`decode_verify ${alg} tampered ${label}`, 'io.jwt.decode_verify', tamper(good), { cert: material, time: NOW, aud: 'svc' });
        add(`decode_verify ${alg} aud ${label}`, 'io.jwt.decode_verify', good, { cert: material, time: NOW, aud: 'svc', iss: 'issuer' });
      }
      add(`verify_${fn} kid one`, `io.jwt.verify_${fn}`, signToken({ alg, kid: 'one' }, payload, alg, key.privateKey), jwks);
      add(`decode_verify ${alg} kid one`, 'io.jwt.decode_verify', signToken({ alg, kid: 'one' }, payload, alg, key.privateKey), { cert: jwks, time: NOW, aud: 'svc' });
      add(`decode_verify ${alg} alg constraint`, 'io.jwt.decode_verify', good, { cert: key.spki, time: NOW, aud: 'svc', alg: 'RS256' });
      add(`decode_verify ${alg} header alg lies`, 'io.jwt.decode_verify', signToken({ alg: 'RS256' }, payload, alg, key.privateKey), { cert: key.spki, time: NOW, aud: 'svc' });
      add(`verify_${fn} malformed signature`, `io.jwt.verify_${fn}`, `${good.slice(0, good.lastIndexOf('.'))}.a`, key.spki);
      add(`verify_${fn} short signature`, `io.jwt.verify_${fn}`, `${good.slice(0, good.lastIndexOf('.'))}.AAAA`, key.spki);
    }
    for (const [label, cert] of Object.entries(certs)) {
      for (const [alg, key] of [['RS256', keys.rsa!], ['ES256', keys.p256!], ['EdDSA', keys.ed!]] as const) {
        const token = signToken({ alg }, payload, alg, key.privateKey);
        add(`cert ${label} ${alg}`, `io.jwt.verify_${alg.toLowerCase()}`, token, cert);
        add(`cert ${label} decode_verify ${alg}`, 'io.jwt.decode_verify', token, { cert, time: NOW, aud: 'svc' });
      }
    }
    const e3 = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 });
    add('rsa e=3', 'io.jwt.verify_rs256', signToken({ alg: 'RS256' }, payload, 'RS256', e3.privateKey), e3.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    // Small RSA keys: Go refuses keys under 1024 bits.
    add('rsa 512', 'io.jwt.verify_rs256', signToken({ alg: 'RS256' }, payload, 'RS256', keys.rsaSmall!.privateKey), keys.rsaSmall!.spki);
    // ES256 signed with a P-384 key (jwsbb accepts it; the curve size fixes the signature length).
    add('es256 p384', 'io.jwt.decode_verify', signToken({ alg: 'ES256' }, payload, 'ES256', keys.p384!.privateKey), { cert: keys.p384!.spki, time: NOW, aud: 'svc' });
    add('es256 p384 verify', 'io.jwt.verify_es256', signToken({ alg: 'ES256' }, payload, 'ES256', keys.p384!.privateKey), keys.p384!.spki);
    add('Ed25519 alg', 'io.jwt.decode_verify', signToken({ alg: 'Ed25519' }, payload, 'Ed25519', keys.ed!.privateKey), { cert: keys.ed!.spki, time: NOW, aud: 'svc' });

    // HMAC, claims and time.
    const secret = 'secret';
    const hs = (claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }) => signToken(header, claims, String(header.alg ?? 'HS256'), secret);
    for (const bits of ['256', '384', '512']) {
      const token = hs(payload, { alg: `HS${bits}` });
      add(`hs${bits}`, `io.jwt.verify_hs${bits}`, token, secret);
      add(`hs${bits} wrong secret`, `io.jwt.verify_hs${bits}`, token, 'wrong');
      add(`hs${bits} tampered`, `io.jwt.verify_hs${bits}`, tamper(token), secret);
      add(`hs${bits} decode_verify`, 'io.jwt.decode_verify', token, { secret, time: NOW, aud: 'svc' });
      add(`hs${bits} oct jwk`, 'io.jwt.decode_verify', token, { cert: JSON.stringify({ kty: 'oct', k: Buffer.from(secret).toString('base64url') }), time: NOW, aud: 'svc' });
    }
    const claimCases: [string, Record<string, unknown>, Record<string, RegoValue>][] = [
      ['expired', { exp: SECONDS - 1 }, {}], ['exp equals now', { exp: SECONDS }, {}], ['exp float', { exp: SECONDS + 0.5 }, {}],
      ['exp just before', { exp: SECONDS - 0.000001 }, {}], ['nbf future', { nbf: SECONDS + 10 }, {}], ['nbf now', { nbf: SECONDS }, {}],
      ['nbf float', { nbf: SECONDS + 0.25 }, {}], ['exp string', { exp: 'tomorrow' }, {}], ['nbf string', { nbf: 'x' }, {}],
      ['wrong iss', { iss: 'other' }, { iss: 'issuer' }], ['missing iss', {}, { iss: 'issuer' }], ['iss ok', { iss: 'issuer' }, { iss: 'issuer' }],
      ['aud array', { aud: ['x', 'svc'] }, { aud: 'svc' }], ['aud array miss', { aud: ['x', 1] }, { aud: 'svc' }],
      ['aud without constraint', { aud: 'svc' }, {}], ['aud missing', {}, { aud: 'svc' }], ['aud object', { aud: { svc: true } }, { aud: 'svc' }],
      ['aud empty string', { aud: '' }, {}], ['no claims', {}, {}],
      ['unknown constraint', {}, { foo: 'bar' }], ['bad time', {}, { time: 'now' }], ['negative time', {}, { time: -1 }],
      ['float time', { exp: SECONDS + 1 }, { time: 1.7e18 + 0.5 }], ['both keys', {}, { cert: keys.rsa!.spki }],
      ['alg constraint match', {}, { alg: 'HS256' }], ['alg constraint miss', {}, { alg: 'HS512' }], ['iss number constraint', {}, { iss: 5 }],
    ];
    for (const [label, claims, constraints] of claimCases) {
      add(`claims ${label}`, 'io.jwt.decode_verify', hs(claims), { secret, time: NOW, ...constraints });
    }
    add('no key constraint', 'io.jwt.decode_verify', hs({}), { time: NOW });
    add('empty secret', 'io.jwt.decode_verify', hs({}), { secret: '', time: NOW });
    add('alg none', 'io.jwt.decode_verify', signToken({ alg: 'none' }, {}, 'none', secret), { secret, time: NOW });
    add('alg none verify', 'io.jwt.verify_hs256', signToken({ alg: 'none' }, {}, 'none', secret), secret);
    add('no alg', 'io.jwt.decode_verify', hs({}, { typ: 'JWT' }), { secret, time: NOW });
    add('crit unknown', 'io.jwt.decode_verify', hs({}, { alg: 'HS256', crit: ['foo'], foo: 1 }), { secret, time: NOW });
    add('crit known', 'io.jwt.decode_verify', hs({}, { alg: 'HS256', crit: ['alg'] }), { secret, time: NOW });
    add('crit empty', 'io.jwt.decode_verify', hs({}, { alg: 'HS256', crit: [] }), { secret, time: NOW });
    add('crit not list', 'io.jwt.decode_verify', hs({}, { alg: 'HS256', crit: 'x' }), { secret, time: NOW });
    add('kid number', 'io.jwt.decode_verify', hs({}, { alg: 'HS256', kid: 1 }), { secret, time: NOW });
    add('jwe', 'io.jwt.decode_verify', hs({}, { alg: 'HS256', enc: 'A128GCM' }), { secret, time: NOW });
    const inner = hs({ sub: 'inner', aud: 'svc' });
    add('nested', 'io.jwt.decode_verify', signToken({ alg: 'HS256', cty: 'jwt' }, inner, 'HS256', secret), { secret, time: NOW, aud: 'svc' });
    add('nested decode', 'io.jwt.decode', signToken({ alg: 'HS256', cty: 'JWT' }, `"${inner}"`, 'HS256', secret));
    add('payload not object', 'io.jwt.decode_verify', signToken({ alg: 'HS256' }, '[1]', 'HS256', secret), { secret, time: NOW });
    add('payload not json', 'io.jwt.decode_verify', signToken({ alg: 'HS256' }, 'nope', 'HS256', secret), { secret, time: NOW });
    for (const rego of ['{"a": {1, 2}}', '{1: 2}', '{"a": set()}', '{"n": 12345678901234567890, "s": {1}}', '{"a": [1,]}', '{"a": 1} x']) {
      add(`payload rego-not-json ${rego}`, 'io.jwt.decode', signToken({ alg: 'HS256' }, rego, 'HS256', secret));
    }
    add('big numbers', 'io.jwt.decode', signToken({ alg: 'HS256' }, '{"n":123456789012345678901234567890,"f":1.5e3,"dup":1,"dup":2}', 'HS256', secret));
    for (const bad of ['', 'a.b', 'a.b.c.d', 'e30.e30.', 'e30.e30', '!!.e30.e30', 'e30=.e30.x', 'eyJhbGciOiJIUzI1NiJ9.e30.+/', 'W10.e30.e30', 'eyJhbGciOiJIUzI1NiJ9.e30.e30']) {
      add(`decode ${bad}`, 'io.jwt.decode', bad);
      add(`decode_verify ${bad}`, 'io.jwt.decode_verify', bad, { secret, time: NOW });
      add(`verify_rs256 ${bad}`, 'io.jwt.verify_rs256', bad, keys.rsa!.spki);
      add(`verify_hs256 ${bad}`, 'io.jwt.verify_hs256', bad, secret);
    }
    add('decode ok', 'io.jwt.decode', hs(payload));
    // Invalid UTF-8 and lone-surrogate escapes in the JSON: Go writes U+FFFD per bad byte.
    const rawToken = (header: Buffer, body: Buffer) => {
      const input = `${header.toString('base64url')}.${body.toString('base64url')}`;
      return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
    };
    const badUtf8 = Buffer.concat([Buffer.from('{"alg":"HS256","x":"a'), Buffer.from([0xe2, 0x82, 0xff, 0xed, 0xa0, 0x80, 0xf0, 0x9f, 0x98]), Buffer.from('b"}')]);
    const surrogates = Buffer.from('{"s":"\\ud800x\\udc00\\ud83d\\ude00","\\udbff":1}');
    add('decode bad utf-8 header', 'io.jwt.decode', rawToken(badUtf8, Buffer.from('{}')));
    add('decode surrogate escapes', 'io.jwt.decode', rawToken(Buffer.from('{"alg":"HS256"}'), surrogates));
    add('decode_verify bad utf-8 header', 'io.jwt.decode_verify', rawToken(badUtf8, surrogates), { secret, time: NOW });
    add('decode bad utf-8 outside strings', 'io.jwt.decode', rawToken(Buffer.from([0x7b, 0xff, 0x7d]), Buffer.from('{}')));
    add('decode padded', 'io.jwt.decode', `${Buffer.from('{"alg":"HS256","x":1}').toString('base64')}.e30.c2ln`);
    for (const material of ['', 'junk', '{"keys": 5}', '{"keys": []}', '{"kty":"XX"}', '{"kty":"EC","crv":"P-256"}', keys.rsa!.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), `${keys.rsa!.spki}${keys.rsa!.spki}`]) {
      add(`bad material ${material.slice(0, 20)}`, 'io.jwt.verify_rs256', signToken({ alg: 'RS256' }, {}, 'RS256', keys.rsa!.privateKey), material);
      add(`bad cert constraint ${material.slice(0, 20)}`, 'io.jwt.decode_verify', signToken({ alg: 'RS256' }, {}, 'RS256', keys.rsa!.privateKey), { cert: material, time: NOW });
    }
    add('verify non-string key', 'io.jwt.verify_rs256', hs({}), 5);

    // Key material as jwx and Go's x509 read it.
    const rsaJwk = jwkOf(keys.rsa!.publicKey) as Record<string, string>;
    const rs = signToken({ alg: 'RS256', kid: 'k' }, payload, 'RS256', keys.rsa!.privateKey);
    const odd: [string, unknown][] = [
      ['jwk padded n', { ...rsaJwk, n: Buffer.from(rsaJwk.n!, 'base64url').toString('base64') }],
      ['jwk kid number', { ...rsaJwk, kid: 5 }], ['jwk alg number', { ...rsaJwk, alg: 5 }], ['jwk no e', { kty: 'RSA', n: rsaJwk.n }],
      ['jwk use enc', { ...rsaJwk, use: 'enc' }], ['jwk x25519', jwkOf(generateKeyPairSync('x25519').publicKey)],
      ['jwks bad member', { keys: [rsaJwk, { kty: 'EC' }] }], ['jwks extra fields', { keys: [rsaJwk], other: 1 }],
      ['jwks kid mismatch alg', { keys: [{ ...rsaJwk, kid: 'k', alg: 'ES256' }] }], ['jwks kid other key', { keys: [{ ...jwkOf(keys.rsa2!.publicKey), kid: 'k' }, rsaJwk] }],
      ['jwk private rsa', jwkOf(keys.rsa!.privateKey)], ['jwks oct', { keys: [{ kty: 'oct', k: 'c2VjcmV0' }, rsaJwk] }], ['array', [rsaJwk]],
      ['jwk private rsa without crt', (({ n, e, d, kty }) => ({ n, e, d, kty }))(jwkOf(keys.rsa!.privateKey) as Record<string, string>)],
      ['jwk x5c junk', { ...rsaJwk, x5c: ['not a cert'] }], ['jwk x5c other cert', { ...rsaJwk, x5c: [certs.p256.replace(/-----[^-]+-----|\s/g, '')] }],
      ['jwk empty object', {}], ['jwk kty lower', { ...rsaJwk, kty: 'rsa' }], ['jwk n empty', { ...rsaJwk, n: '' }],
    ];
    for (const [label, material] of odd) {
      add(`verify_rs256 ${label}`, 'io.jwt.verify_rs256', rs, JSON.stringify(material));
      add(`decode_verify ${label}`, 'io.jwt.decode_verify', rs, { cert: JSON.stringify(material), time: NOW, aud: 'svc' });
    }
    const secp256k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    add('pem secp256k1', 'io.jwt.verify_es256', signToken({ alg: 'ES256' }, payload, 'ES256', keys.p256!.privateKey), secp256k1);
    const p224 = generateKeyPairSync('ec', { namedCurve: 'P-224' });
    const p224Token = signToken({ alg: 'ES256' }, payload, 'ES256', p224.privateKey);
    add('pem p224 verify', 'io.jwt.verify_es256', p224Token, p224.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    add('pem p224 decode_verify', 'io.jwt.decode_verify', p224Token, { cert: p224.publicKey.export({ type: 'spki', format: 'pem' }).toString(), time: NOW, aud: 'svc' });
    add('pem pkcs1 public', 'io.jwt.verify_rs256', rs, keys.rsa!.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString());
    add('pem crlf', 'io.jwt.verify_rs256', rs, keys.rsa!.spki.replace(/\n/g, '\r\n'));
    const es = signToken({ alg: 'ES256' }, payload, 'ES256', keys.p256!.privateKey);
    const ecJwk = jwkOf(keys.p256!.publicKey) as Record<string, string>;
    const strip = (b64: string) => Buffer.from(b64, 'base64url').subarray(1).toString('base64url');
    for (const [label, jwk] of [['ec short x', { ...ecJwk, x: strip(ecJwk.x!) }], ['ec wrong crv', { ...ecJwk, crv: 'P-384' }], ['ec private d only', (({ kty, crv, d }) => ({ kty, crv, d }))(jwkOf(keys.p256!.privateKey) as Record<string, string>)], ['okp private d only', (({ kty, crv, d }) => ({ kty, crv, d }))(jwkOf(keys.ed!.privateKey) as Record<string, string>)]] as [string, unknown][]) {
      add(`verify_es256 ${label}`, 'io.jwt.verify_es256', es, JSON.stringify(jwk));
      add(`decode_verify es ${label}`, 'io.jwt.decode_verify', es, { cert: JSON.stringify(jwk), time: NOW, aud: 'svc' });
    }
    const esSig = Buffer.from(es.split('.')[2]!, 'base64url');
    const withSig = (sig: Buffer) => `${es.slice(0, es.lastIndexOf('.'))}.${sig.toString('base64url')}`;
    const der = sign('sha256', Buffer.from(es.slice(0, es.lastIndexOf('.'))), keys.p256!.privateKey);
    for (const [label, sig] of [['odd length', Buffer.concat([esSig, Buffer.from([0])])], ['der', der], ['zero', Buffer.alloc(64)], ['short', esSig.subarray(0, 63)], ['padded halves', Buffer.concat([Buffer.from([0]), esSig.subarray(0, 32), Buffer.from([0]), esSig.subarray(32)])]] as [string, Buffer][]) {
      add(`es256 signature ${label}`, 'io.jwt.verify_es256', withSig(sig), keys.p256!.spki);
      add(`es256 decode_verify signature ${label}`, 'io.jwt.decode_verify', withSig(sig), { cert: keys.p256!.spki, time: NOW, aud: 'svc' });
    }
    add('hs256 empty secret', 'io.jwt.verify_hs256', signToken({ alg: 'HS256' }, {}, 'HS256', ''), '');
    const bigExp = signToken({ alg: 'HS256' }, '{"exp": 100000000000000000000000, "nbf": 1.5e9}', 'HS256', secret);
    add('big exp', 'io.jwt.decode_verify', bigExp, { secret, time: NOW });
    add('big exp clock', 'io.jwt.decode_verify', bigExp, { secret });
    add('exp far past clock', 'io.jwt.decode_verify', hs({ exp: 1000 }), { secret });
    add('exp huge float time', 'io.jwt.decode_verify', hs({ exp: 1e300 }), { secret, time: 1e30 });
    add('nested failing', 'io.jwt.decode_verify', signToken({ alg: 'HS256', cty: 'JWT' }, signToken({ alg: 'HS256' }, {}, 'HS256', 'other'), 'HS256', secret), { secret, time: NOW });
    add('nested not a token', 'io.jwt.decode_verify', signToken({ alg: 'HS256', cty: 'JWT' }, '{"a":1}', 'HS256', secret), { secret, time: NOW });

    // Random headers, claims and constraints (seeded): every combination of present/absent/mistyped
    // fields. Never a non-string cty, nor a non-string iss under an iss constraint: OPA panics there.
    const random = seeded(20261129);
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
    const maybe = (value: unknown) => (random() < 0.5 ? undefined : value);
    for (let i = 0; i < 300; i++) {
      const header = Object.fromEntries(Object.entries({
        alg: pick(['HS256', 'HS384', 'HS512', 'RS256', 'none', '', 5, null]), typ: maybe(pick(['JWT', 'at+jwt', 1])),
        kid: maybe(pick(['k', '', 2])), cty: maybe(pick(['json', 'jwt-ish'])), crit: maybe(pick([['exp'], ['alg'], [], 'x', [1, 'y']])), exp: maybe(1),
      }).filter(([, v]) => v !== undefined));
      const claims = Object.fromEntries(Object.entries({
        iss: maybe(pick(['issuer', 'other'])), aud: maybe(pick(['svc', ['svc', 'x'], ['x'], 7, ''])), sub: maybe('alice'),
        exp: maybe(pick([SECONDS + 100, SECONDS - 100, SECONDS, SECONDS + 0.25, '1', null, 1e12])), nbf: maybe(pick([SECONDS - 1, SECONDS + 1, SECONDS, true, 1e-3])),
      }).filter(([, v]) => v !== undefined));
      const alg = typeof header.alg === 'string' && header.alg.startsWith('HS') ? header.alg : 'HS256';
      const token = signToken(header, claims, alg, pick([secret, 'wrong']));
      const constraints = Object.fromEntries(Object.entries({
        secret: maybe(secret), iss: maybe(pick(['issuer', ''])), aud: maybe(pick(['svc', 'x', ''])), alg: maybe(pick(['HS256', 'HS512'])),
        // Always a time: opa eval's clock is the real one, the host calls' is NOW.
        time: pick([NOW, NOW + 100_000_000_000n, 0, 1.7e18]), cert: random() < 0.1 ? keys.rsa!.spki : undefined,
      }).filter(([, v]) => v !== undefined)) as Record<string, RegoValue>;
      add(`random ${i} decode_verify`, 'io.jwt.decode_verify', token, constraints);
      add(`random ${i} decode`, 'io.jwt.decode', token);
      add(`random ${i} verify_hs`, `io.jwt.verify_hs${alg.slice(2)}`, token, secret);
    }

    // Seeded garbage: segments of random base64url-ish text, padding, dots and stray bytes.
    const alphabet = 'ABCxyz019-_=+/. \n\r';
    const garbage = (length: number) => Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
    const header64 = Buffer.from('{"alg":"HS256"}').toString('base64url');
    for (let i = 0; i < 150; i++) {
      const token = pick([
        () => garbage(Math.floor(random() * 24)),
        () => `${header64}.${garbage(Math.floor(random() * 8))}.${garbage(Math.floor(random() * 8))}`,
        () => `${garbage(4)}.e30.${garbage(3)}`,
        () => `${header64}${pick(['=', '==', '\n', ''])}.e30${pick(['=', '==', '\r\n', ''])}.${pick(['', 'AA', 'AA=', 'A', 'AA==', '+/'])}`,
      ])();
      add(`garbage ${i} decode`, 'io.jwt.decode', token);
      add(`garbage ${i} verify_hs256`, 'io.jwt.verify_hs256', token, secret);
      add(`garbage ${i} decode_verify`, 'io.jwt.decode_verify', token, { secret, time: NOW });
    }

    // encode_sign with deterministic algorithms must give OPA's exact bytes.
    const hsJwk = { kty: 'oct', k: Buffer.from(secret).toString('base64url') };
    add('encode_sign hs256', 'io.jwt.encode_sign', { alg: 'HS256', typ: 'JWT', z: '<&>', a: [1, 2] }, { sub: 'a\u2028b', n: 1.5, nested: { b: 1, a: 2 } }, hsJwk);
    add('encode_sign rs256', 'io.jwt.encode_sign', { alg: 'RS256' }, { sub: 'x' }, jwkOf(keys.rsa!.privateKey) as RegoValue);
    add('encode_sign eddsa', 'io.jwt.encode_sign', { alg: 'EdDSA' }, { sub: 'x' }, jwkOf(keys.ed!.privateKey) as RegoValue);
    add('encode_sign unknown alg', 'io.jwt.encode_sign', { alg: 'none' }, { sub: 'x' }, hsJwk);
    add('encode_sign no alg', 'io.jwt.encode_sign', { typ: 'JWT' }, { sub: 'x' }, hsJwk);
    add('encode_sign public key', 'io.jwt.encode_sign', { alg: 'RS256' }, { sub: 'x' }, jwkOf(keys.rsa!.publicKey) as RegoValue);
    add('encode_sign jwks', 'io.jwt.encode_sign', { alg: 'HS512' }, { sub: 'x' }, { keys: [hsJwk, jwkOf(keys.rsa!.privateKey)] } as RegoValue);
    add('encode_sign_raw', 'io.jwt.encode_sign_raw', '{"alg":"HS256","typ":"JWT"}', '{"a": 1}', JSON.stringify(hsJwk));
    add('encode_sign_raw not json', 'io.jwt.encode_sign_raw', '{"alg":"HS256"}', 'plain text', JSON.stringify(hsJwk));
    add('encode_sign_raw typ other', 'io.jwt.encode_sign_raw', '{"alg":"HS256","typ":"text"}', 'plain text', JSON.stringify(hsJwk));
    add('encode_sign_raw bad header', 'io.jwt.encode_sign_raw', 'nope', '{}', JSON.stringify(hsJwk));
    add('encode_sign_raw empty key', 'io.jwt.encode_sign_raw', '{"alg":"HS256"}', '{}', '{"kty":"oct","k":""}');
    const rsaPrivate = jwkOf(keys.rsa!.privateKey) as Record<string, string>;
    add('encode_sign_raw rsa without crt', 'io.jwt.encode_sign_raw', '{"alg":"RS256"}', '{}', JSON.stringify({ kty: 'RSA', n: rsaPrivate.n, e: rsaPrivate.e, d: rsaPrivate.d }));
    add('encode_sign_raw ps256 with rsa public', 'io.jwt.encode_sign_raw', '{"alg":"PS256"}', '{}', JSON.stringify(rsaJwk));
    add('encode_sign_raw es256 with oct', 'io.jwt.encode_sign_raw', '{"alg":"ES256"}', '{}', JSON.stringify(hsJwk));
    add('encode_sign_raw eddsa with rsa', 'io.jwt.encode_sign_raw', '{"alg":"EdDSA"}', '{}', JSON.stringify(rsaPrivate));
    add('encode_sign_raw hs256 with rsa', 'io.jwt.encode_sign_raw', '{"alg":"HS256"}', '{}', JSON.stringify(rsaPrivate));
    add('encode_sign_raw alg number', 'io.jwt.encode_sign_raw', '{"alg":5}', '{}', JSON.stringify(hsJwk));
    add('encode_sign_raw header array', 'io.jwt.encode_sign_raw', '["alg"]', '{}', JSON.stringify(hsJwk));
    add('encode_sign_raw typ number', 'io.jwt.encode_sign_raw', '{"alg":"HS256","typ":5}', 'x', JSON.stringify(hsJwk));
    add('encode_sign_raw small rsa', 'io.jwt.encode_sign_raw', '{"alg":"RS256"}', '{}', JSON.stringify(jwkOf(keys.rsaSmall!.privateKey)));

    oracle = opaEvalCalls(tool.opa, dir, calls);
    wasm = await wasmEvalCalls(tool.opa, dir, calls, () => NOW);
  }, 120_000);

  it('gives OPA\'s result for every call', () => {
    expect(mismatches(calls, (i) => plain(callHost(calls[i]!.name, calls[i]!.args, testContext(NOW))), oracle)).toEqual([]);
    // The matrix exercises every outcome: errors, false, true, verified and unverified tokens.
    const outcomes = calls.map((_c, i) => exactJson(oracle.get(i)).slice(0, 6));
    const count = (prefix: string) => outcomes.filter((o) => o.startsWith(prefix)).length;
    expect(count('undefi')).toBeGreaterThan(40);
    expect(count('true')).toBeGreaterThan(40);
    expect(count('false')).toBeGreaterThan(40);
    expect(count('[true')).toBeGreaterThan(40);
    expect(count('[false')).toBeGreaterThan(40);
  });

  it('gives OPA\'s result end to end, through a policy compiled to Wasm and gatehouse\'s runtime', () => {
    expect(wasm.size).toBe(oracle.size);
    expect(mismatches(calls, (i) => wasm.get(i), oracle)).toEqual([]);
  });
});
