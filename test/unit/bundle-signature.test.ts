import { constants, createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GatehouseError } from '../../src/errors.js';
import { canonicalJson, hashBundleFile } from '../../src/policy/bundle-hash.js';
import {
  SIGNATURE_ALGORITHMS,
  prepareSignatureVerifier,
  signBundleFiles,
  verifyBundleSignatures,
  type SignatureAlgorithm,
  type SignatureConfig,
} from '../../src/policy/signature.js';

const pem = { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } } as const;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048, ...pem });
const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048, ...pem });
const ec = {
  ES256: generateKeyPairSync('ec', { namedCurve: 'P-256', ...pem }),
  ES384: generateKeyPairSync('ec', { namedCurve: 'P-384', ...pem }),
  ES512: generateKeyPairSync('ec', { namedCurve: 'P-521', ...pem }),
};
const pairFor = (alg: SignatureAlgorithm) => (alg.startsWith('ES') ? ec[alg as keyof typeof ec] : rsa);

/** What `gatehouse build` produces: OPA's files plus the cache analysis. */
function bundleFiles(): Map<string, Buffer> {
  return new Map([
    ['data.json', Buffer.from('{"roles": {"admin": ["alice"]}, "limit": 1.0}')],
    ['.manifest', Buffer.from('{"revision":"r1","roots":[""],"wasm":[{"entrypoint":"envoy/authz/allow","module":"/policy.wasm"}]}')],
    ['policy.wasm', Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])],
    ['policies/authz.rego', Buffer.from('package envoy.authz\n\ndefault allow := false\n')],
    ['.gatehouse/cache-analysis.json', Buffer.from('{"fields": [["attributes", "request", "http", "method"]]}\n')],
  ]);
}

function signed(files: Map<string, Buffer>, alg: SignatureAlgorithm = 'RS256', extra: { keyId?: string; scope?: string } = {}): Map<string, Buffer> {
  const out = new Map(files);
  out.set('.signatures.json', signBundleFiles(files, { keyId: extra.keyId ?? 'k1', privateKeyPem: pairFor(alg).privateKey, algorithm: alg, scope: extra.scope }));
  return out;
}

const config = (alg: SignatureAlgorithm = 'RS256', rest: Partial<SignatureConfig> = {}): SignatureConfig => ({
  keys: { k1: { algorithm: alg, publicKeyPem: pairFor(alg).publicKey } },
  ...rest,
});

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const fileList = (files: Map<string, Buffer>) =>
  [...files].filter(([n]) => n !== '.signatures.json').map(([name, bytes]) => ({ name, hash: hashBundleFile(name, bytes, 'SHA-256'), algorithm: 'SHA-256' }));

/** A hand-made token: any header, any payload, any signing function. */
function forge(header: Record<string, unknown>, payload: Record<string, unknown>, signer: (input: Buffer) => Buffer): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${signer(Buffer.from(input)).toString('base64url')}`;
}
const rs = (hash: string, key: string | KeyObject) => (input: Buffer) => sign(hash, input, { key, padding: constants.RSA_PKCS1_PADDING });

function withToken(files: Map<string, Buffer>, token: string | unknown): Map<string, Buffer> {
  const out = new Map(files);
  out.set('.signatures.json', Buffer.from(JSON.stringify({ signatures: [token] })));
  return out;
}
const withSignatures = (files: Map<string, Buffer>, text: string) => new Map([...files, ['.signatures.json', Buffer.from(text)]]);

function rejection(files: Map<string, Buffer>, cfg: SignatureConfig = config()): GatehouseError {
  try {
    verifyBundleSignatures(files, cfg);
  } catch (error) {
    expect(error).toBeInstanceOf(GatehouseError);
    expect((error as GatehouseError).code).toBe('bundle_invalid');
    return error as GatehouseError;
  }
  throw new Error('expected the bundle to be rejected');
}

describe('bundle signatures: accepted', () => {
  it.each(SIGNATURE_ALGORITHMS)('verifies a bundle signed with %s covering every file', (alg) => {
    expect(verifyBundleSignatures(signed(bundleFiles(), alg), config(alg))).toEqual({ keyId: 'k1', algorithm: alg, signedFiles: 5 });
  });

  it('hashes data.json and .manifest by value: whitespace and key order do not matter, number text does (as OPA)', () => {
    const files = signed(bundleFiles());
    files.set('data.json', Buffer.from('{\n  "limit": 1.0,\n  "roles": {"admin": [ "alice" ]}\n}\n'));
    expect(verifyBundleSignatures(files, config()).signedFiles).toBe(5);
    files.set('data.json', Buffer.from('{"roles": {"admin": ["alice"]}, "limit": 1}'));
    expect(rejection(files).message).toContain('file "data.json" was modified after signing');
  });

  it('chooses the key by header kid, else the keyid claim, else defaultKeyId', () => {
    const keys = { k1: config().keys.k1!, e1: { algorithm: 'ES256' as const, publicKeyPem: ec.ES256.publicKey } };
    expect(verifyBundleSignatures(signed(bundleFiles(), 'ES256', { keyId: 'e1' }), { keys }).keyId).toBe('e1');
    const files = bundleFiles();
    const es = (input: Buffer) => sign('sha256', input, { key: ec.ES256.privateKey, dsaEncoding: 'ieee-p1363' });
    const claimOnly = forge({ alg: 'ES256' }, { files: fileList(files), keyid: 'e1' }, es);
    expect(verifyBundleSignatures(withToken(files, claimOnly), { keys }).keyId).toBe('e1');
    // opa build --claims-file writes neither kid nor keyid: OPA's --verification-key-id picks the key.
    const anonymous = forge({ alg: 'ES256', typ: 'JWT' }, { files: fileList(files), iss: 'ci' }, es);
    expect(verifyBundleSignatures(withToken(files, anonymous), { keys, defaultKeyId: 'e1' }).keyId).toBe('e1');
    expect(rejection(withToken(files, anonymous), { keys }).message).toContain('names no key ("kid") and no default key id');
  });

  it('accepts a matching scope', () => {
    expect(verifyBundleSignatures(signed(bundleFiles(), 'RS256', { scope: 'prod' }), config('RS256', { scope: 'prod' })).keyId).toBe('k1');
  });

  it('matches digests computed by OPA 1.19.1 (opa build -b --signing-key) for data.json and .manifest', () => {
    // Number literals as written, keys by UTF-8 bytes (U+FFFF before U+1F600), Go string escapes.
    const data = Buffer.from('{"z":1.0,"a":[1e2,-0,"x\\u2028y\\b\\f\\u0001<&>"],"\\ud83d\\ude00":true,"\\uffff":null,"n":{"b":2,"a":"é"}}');
    expect(canonicalJson('data.json', data)).toBe('{"a":[1e2,-0,"x\\u2028y\\b\\f\\u0001<&>"],"n":{"a":"é","b":2},"z":1.0,"\uffff":null,"😀":true}');
    expect(hashBundleFile('data.json', data, 'SHA-256')).toBe('e96d72b15c10cec7f192f70484c70752328abb46c266ba13d1637858a4e3c242');
    const manifest = Buffer.from('{"revision":"","roots":[""],"wasm":[{"entrypoint":"envoy/authz/allow","module":"/policy.wasm"}],"rego_version":1}');
    expect(hashBundleFile('.manifest', manifest, 'SHA-256')).toBe('7940b1475a201e1ed711331cce6cb9d9153fa1cfc05cd0b88853695a85718485');
    // Any other file, whatever its extension, is hashed as raw bytes.
    expect(hashBundleFile('.gatehouse/cache-analysis.json', Buffer.from('{ }'), 'SHA-256')).not.toBe(hashBundleFile('x/a.json', Buffer.from('{}'), 'SHA-256'));
  });
});

describe('bundle signatures: rejected', () => {
  it('an unsigned bundle when verification is configured', () => {
    expect(rejection(bundleFiles()).message).toContain('bundle has no .signatures.json but signature verification is configured');
  });

  it.each([
    ['not JSON', '{"signatures": [', '.signatures.json is not valid JSON'],
    ['not an object', '["x"]', '.signatures.json is not a JSON object'],
    ['no JWT', '{"signatures": []}', 'must hold "signatures": [one JWT string] (found 0 entries)'],
    ['two JWTs', '{"signatures": ["a.b.c", "a.b.c"]}', '(found 2 entries)'],
    ['a custom plugin', '{"signatures": ["a.b.c"], "plugin": "kms"}', 'names signature plugin "kms"'],
    ['a two-part token', '{"signatures": ["abc.def"]}', 'not a compact JWS (expected 3 dot-separated parts, found 2)'],
    ['a non-base64url header', '{"signatures": ["a+b/.e30.c2ln"]}', 'the token header is not base64url'],
    ['a non-JSON header', `{"signatures": ["${b64('not json')}.e30.c2ln"]}`, 'the token header is not valid JSON'],
    ['a non-object payload', `{"signatures": ["${b64({ alg: 'RS256', kid: 'k1' })}.${b64([1])}.c2ln"]}`, 'the token payload is not a JSON object'],
    ['a header without alg', `{"signatures": ["${b64({ kid: 'k1' })}.e30.c2ln"]}`, 'the token header has no "alg"'],
  ])('a malformed signatures file: %s', (_name, text, message) => {
    expect(rejection(withSignatures(bundleFiles(), text)).message).toContain(message);
  });

  it('"alg": "none", in any case', () => {
    const files = bundleFiles();
    for (const alg of ['none', 'None', 'NONE']) {
      const unsigned = `${b64({ alg, kid: 'k1' })}.${b64({ files: fileList(files) })}.`;
      expect(rejection(withToken(files, unsigned)).message).toContain('the token is unsigned ("alg": "none"), which is refused');
    }
  });

  it('HMAC, including a token HMAC-signed with the configured public key PEM as the secret', () => {
    const files = bundleFiles();
    const hmacWithPublicKey = forge({ alg: 'HS256', kid: 'k1' }, { files: fileList(files) }, (input) => createHmac('sha256', rsa.publicKey).update(input).digest());
    expect(rejection(withToken(files, hmacWithPublicKey)).message).toContain('the token uses HMAC (HS256), which is refused');
    const hs512 = forge({ alg: 'HS512', kid: 'k1' }, { files: fileList(files) }, (input) => createHmac('sha512', 'secret').update(input).digest());
    expect(rejection(withToken(files, hs512)).message).toContain('HMAC (HS512)');
  });

  it('an algorithm gatehouse does not know', () => {
    for (const alg of ['EdDSA', 'constructor']) {
      const token = forge({ alg, kid: 'k1' }, { files: [] }, () => Buffer.from('sig'));
      expect(rejection(withToken(bundleFiles(), token)).message).toContain(`unsupported token algorithm "${alg}"`);
    }
  });

  it('an unknown key id', () => {
    expect(rejection(signed(bundleFiles(), 'RS256', { keyId: 'rogue' })).message).toContain('unknown key id "rogue" (configured: k1)');
  });

  it('a header algorithm other than the one configured for the key', () => {
    const files = bundleFiles();
    // Validly signed by the right RSA key, but with RS384 while the key is pinned to RS256.
    const rs384 = forge({ alg: 'RS384', kid: 'k1' }, { files: fileList(files) }, rs('sha384', rsa.privateKey));
    expect(rejection(withToken(files, rs384)).message).toContain('the token is signed with RS384 but key "k1" is configured for RS256');
    const ps256 = signed(files, 'PS256');
    expect(rejection(ps256).message).toContain('signed with PS256 but key "k1" is configured for RS256');
  });

  it('a bad signature: wrong key, flipped bit, altered payload, DER-encoded ECDSA', () => {
    const files = bundleFiles();
    const wrongKey = forge({ alg: 'RS256', kid: 'k1' }, { files: fileList(files) }, rs('sha256', otherRsa.privateKey));
    expect(rejection(withToken(files, wrongKey)).message).toContain('bad signature: the token was not signed by key "k1"');

    const good = forge({ alg: 'RS256', kid: 'k1' }, { files: fileList(files) }, rs('sha256', rsa.privateKey));
    const [h, p, s] = good.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    sig[10]! ^= 1;
    expect(rejection(withToken(files, `${h}.${p}.${sig.toString('base64url')}`)).message).toContain('bad signature');

    const extended = new Map([...files, ['evil.rego', Buffer.from('package evil')]]);
    expect(rejection(withToken(extended, `${h}.${b64({ files: fileList(extended) })}.${s}`)).message).toContain('bad signature');

    const der = forge({ alg: 'ES256', kid: 'k1' }, { files: fileList(files) }, (input) => sign('sha256', input, { key: ec.ES256.privateKey }));
    expect(rejection(withToken(files, der), config('ES256')).message).toContain('bad signature');
  });

  it('a scope mismatch, including a scope on one side only (as OPA)', () => {
    expect(rejection(signed(bundleFiles(), 'RS256', { scope: 'dev' }), config('RS256', { scope: 'prod' })).message).toContain(
      'scope mismatch: the token has "dev", expected "prod"',
    );
    expect(rejection(signed(bundleFiles(), 'RS256', { scope: 'dev' })).message).toContain('the token has "dev", expected ""');
    expect(rejection(signed(bundleFiles()), config('RS256', { scope: 'prod' })).message).toContain('the token has "", expected "prod"');
  });

  it.each([
    ['policy.wasm', Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x01])],
    ['data.json', Buffer.from('{"roles": {"admin": ["alice", "mallory"]}, "limit": 1.0}')],
    ['.manifest', Buffer.from('{"revision":"r2","roots":[""],"wasm":[{"entrypoint":"envoy/authz/allow","module":"/policy.wasm"}]}')],
    ['policies/authz.rego', Buffer.from('package envoy.authz\n\ndefault allow := true\n')],
    ['.gatehouse/cache-analysis.json', Buffer.from('{"fields": []}\n')],
  ])('a file modified after signing: %s', (name, bytes) => {
    const files = signed(bundleFiles());
    files.set(name, bytes);
    expect(rejection(files).message).toContain(`file "${name}" was modified after signing (SHA-256 `);
  });

  it('a file added after signing (extended bundle), e.g. an unsigned cache analysis', () => {
    const files = signed(bundleFiles());
    files.set('policies/backdoor.rego', Buffer.from('package envoy.authz\nallow if true\n'));
    expect(rejection(files).message).toContain('file "policies/backdoor.rego" is not covered by the signature (added after signing?)');

    // What `opa build --signing-key` + gatehouse's appended analysis gives: must not be trusted.
    const opaOnly = bundleFiles();
    opaOnly.delete('.gatehouse/cache-analysis.json');
    const appended = signed(opaOnly);
    appended.set('.gatehouse/cache-analysis.json', Buffer.from('{"fields": []}'));
    expect(rejection(appended).message).toContain('file ".gatehouse/cache-analysis.json" is not covered by the signature');
  });

  it('a listed file missing from the bundle (truncated)', () => {
    const files = signed(bundleFiles());
    files.delete('data.json');
    expect(rejection(files).message).toContain('file "data.json" is listed in the signature but missing from the bundle (truncated?)');
  });

  it.each([
    ['MD5', 'hashing algorithm "MD5" is collision-prone and refused'],
    ['SHA-1', 'hashing algorithm "SHA-1" is collision-prone and refused'],
    ['SHA3-256', 'hashing algorithm "SHA3-256" is not supported'],
    ['', 'no hashing algorithm for file "data.json"'],
  ])('file digest algorithm %j', (algorithm, message) => {
    const files = bundleFiles();
    const list = fileList(files).map((f) => (f.name === 'data.json' ? { ...f, algorithm } : f));
    const token = forge({ alg: 'RS256', kid: 'k1' }, { files: list }, rs('sha256', rsa.privateKey));
    expect(rejection(withToken(files, token)).message).toContain(message);
  });

  it('accepts another digest OPA supports (SHA-512) when listed', () => {
    const files = bundleFiles();
    const list = fileList(files).map((f) => ({ ...f, hash: hashBundleFile(f.name, files.get(f.name)!, 'SHA-512'), algorithm: 'SHA-512' }));
    const token = forge({ alg: 'RS256', kid: 'k1' }, { files: list }, rs('sha256', rsa.privateKey));
    expect(verifyBundleSignatures(withToken(files, token), config()).signedFiles).toBe(5);
  });

  it('duplicate names in the file list', () => {
    const files = bundleFiles();
    const list = fileList(files);
    const token = forge({ alg: 'RS256', kid: 'k1' }, { files: [...list, list[0]] }, rs('sha256', rsa.privateKey));
    expect(rejection(withToken(files, token)).message).toContain('file "data.json" is listed twice in the signature');
  });

  it('malformed claims: no files list, bad entries, non-hex digest, non-string scope', () => {
    const files = bundleFiles();
    const tokenWith = (payload: Record<string, unknown>) => withToken(files, forge({ alg: 'RS256', kid: 'k1' }, payload, rs('sha256', rsa.privateKey)));
    expect(rejection(tokenWith({})).message).toContain('the token has no "files" list');
    expect(rejection(tokenWith({ files: [{ name: 'data.json' }] })).message).toContain('malformed entry in the signed file list');
    const notHex = fileList(files).map((f) => ({ ...f, hash: f.hash.replace(/./, 'z') }));
    expect(rejection(tokenWith({ files: notHex })).message).toContain('signed digest is not hex');
    expect(rejection(tokenWith({ files: fileList(files), scope: 7 })).message).toContain('the "scope" claim is not a string');
  });

  it('a header kid that disagrees with the keyid claim, and "crit" extensions', () => {
    const files = bundleFiles();
    const split = forge({ alg: 'RS256', kid: 'k1' }, { files: fileList(files), keyid: 'k2' }, rs('sha256', rsa.privateKey));
    expect(rejection(withToken(files, split)).message).toContain('the token header names key "k1" but its "keyid" claim names "k2"');
    const crit = forge({ alg: 'RS256', kid: 'k1', crit: ['b64'], b64: false }, { files: fileList(files) }, rs('sha256', rsa.privateKey));
    expect(rejection(withToken(files, crit)).message).toContain('"crit" extensions');
  });

  it.each([
    ['YAML', 'roles:\n  admin: [alice]\n', 'not valid JSON at character 0'],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), 'is not valid UTF-8'],
    ['an unpaired surrogate', '{"a": "\\ud800"}', 'unpaired surrogate escape'],
    ['trailing text', '{} {}', 'unexpected text after the JSON value'],
    ['absurd nesting', '['.repeat(1200) + ']'.repeat(1200), 'nested deeper than 1000 levels'],
  ])('a structured file gatehouse cannot hash exactly as OPA: %s', (_name, content, message) => {
    const files = bundleFiles();
    files.set('data.json', Buffer.isBuffer(content) ? content : Buffer.from(content));
    expect(() => signBundleFiles(files, { keyId: 'k1', privateKeyPem: rsa.privateKey, algorithm: 'RS256' })).toThrow(message);
  });
});

describe('bundle signatures: configuration and signing', () => {
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024, ...pem });
  it.each([
    ['no keys', { keys: {} }, 'no verification keys are configured'],
    ['a private key', { keys: { k1: { algorithm: 'RS256', publicKeyPem: rsa.privateKey } } }, 'key "k1" is a private key; configure its public key'],
    ['garbage', { keys: { k1: { algorithm: 'RS256', publicKeyPem: 'not a key' } } }, 'key "k1" is not a PEM public key'],
    ['an RSA key for ES256', { keys: { k1: { algorithm: 'ES256', publicKeyPem: rsa.publicKey } } }, 'ES256 needs an EC prime256v1 key, got rsa'],
    ['a P-384 key for ES256', { keys: { k1: { algorithm: 'ES256', publicKeyPem: ec.ES384.publicKey } } }, 'got ec secp384r1'],
    ['an EC key for PS256', { keys: { k1: { algorithm: 'PS256', publicKeyPem: ec.ES256.publicKey } } }, 'PS256 needs an RSA key, got ec'],
    ['a short RSA key', { keys: { k1: { algorithm: 'RS256', publicKeyPem: rsa1024.publicKey } } }, 'RSA key of 1024 bits is too short'],
    ['HS256', { keys: { k1: { algorithm: 'HS256', publicKeyPem: rsa.publicKey } } }, 'unsupported algorithm "HS256" (HMAC is refused'],
    ['a prototype property as algorithm', { keys: { k1: { algorithm: 'toString', publicKeyPem: rsa.publicKey } } }, 'unsupported algorithm "toString"'],
    ['an unknown default key id', { ...config(), defaultKeyId: 'k9' }, 'default key id "k9" is not among the configured keys (k1)'],
  ])('refuses %s at start-up', (_name, cfg, message) => {
    const attempt = () => prepareSignatureVerifier(cfg as SignatureConfig);
    expect(attempt).toThrow(message);
    expect(attempt).toThrow(expect.objectContaining({ code: 'config_invalid' }));
  });

  it('signs in the format opa build writes, replacing an existing .signatures.json', () => {
    const files = signed(bundleFiles(), 'ES256', { keyId: 'old' });
    const bytes = signBundleFiles(files, { keyId: 'k1', privateKeyPem: rsa.privateKey, algorithm: 'RS256', scope: 'prod' });
    const parsed = JSON.parse(bytes.toString()) as { signatures: string[]; plugin: string };
    expect(parsed.plugin).toBe('_default');
    expect(parsed.signatures).toHaveLength(1);
    const [h, p] = parsed.signatures[0]!.split('.') as [string, string];
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: 'RS256', kid: 'k1', typ: 'JWT' });
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as { files: { name: string }[]; keyid: string; scope: string };
    expect(payload.files.map((f) => f.name)).toEqual(['.gatehouse/cache-analysis.json', '.manifest', 'data.json', 'policies/authz.rego', 'policy.wasm']);
    expect(payload).toMatchObject({ keyid: 'k1', scope: 'prod' });
    files.set('.signatures.json', bytes);
    expect(verifyBundleSignatures(files, config('RS256', { scope: 'prod' })).signedFiles).toBe(5);
  });

  it('refuses a signing key that does not fit the algorithm', () => {
    const attempt = () => signBundleFiles(bundleFiles(), { keyId: 'k1', privateKeyPem: ec.ES256.privateKey, algorithm: 'RS256' });
    expect(attempt).toThrow('signing key: RS256 needs an RSA key, got ec');
    expect(attempt).toThrow(expect.objectContaining({ code: 'usage' }));
  });
});
