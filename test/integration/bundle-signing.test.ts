/**
 * Compatibility of gatehouse's bundle signatures with the real OPA CLI, both ways:
 * bundles signed by `opa build --signing-key` verify in gatehouse, and bundles gatehouse signs
 * (after appending its cache analysis) verify in `opa build --verification-key`.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { CACHE_ANALYSIS_FILE } from '../../src/policy/bundle.js';
import { signBundleFiles, verifyBundleSignatures, type SignatureAlgorithm } from '../../src/policy/signature.js';
import { appendToTar, readTarGz, tarEntry } from '../../src/policy/tar.js';
import { tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
const LIMITS = { maxBytes: 64 * 1024 * 1024 };
const POLICY = 'package envoy.authz\n\ndefault allow := false\n\nallow if input.attributes.request.http.method in data.methods\n';
// Exercises OPA's canonical JSON hashing: number text, Go string escapes, key order by UTF-8 bytes.
const DATA = '{"methods": ["GET"], "z": 1.0, "a": [1e2, -0, "x\\u2028y\\b\\f\\u0001<&>"], "\\ud83d\\ude00": true, "\\uffff": null, "n": {"b": 2, "a": "é"}}';

const pem = { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } } as const;
const KEYS: Record<SignatureAlgorithm, { publicKey: string; privateKey: string }> = {} as never;

let dir: string;
let src: string;

function keyFiles(alg: SignatureAlgorithm): { pub: string; priv: string } {
  const pair = (KEYS[alg] ??= alg.startsWith('ES')
    ? generateKeyPairSync('ec', { namedCurve: { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' }[alg as 'ES256'], ...pem })
    : generateKeyPairSync('rsa', { modulusLength: 2048, ...pem }));
  const pub = path.join(dir, `${alg}.pub.pem`);
  const priv = path.join(dir, `${alg}.pem`);
  writeFileSync(pub, pair.publicKey);
  writeFileSync(priv, pair.privateKey);
  return { pub, priv };
}

function opa(args: string[]): { ok: boolean; output: string } {
  try {
    return { ok: true, output: execFileSync(tool.opa, args, { cwd: src, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${failure.stdout ?? ''}${failure.stderr ?? ''}` };
  }
}

/** `opa build -b -t wasm` of the policy directory, signed by OPA. */
function opaSigned(alg: SignatureAlgorithm, extra: string[] = []): string {
  const out = path.join(dir, `opa-${alg}-${extra.length}.tar.gz`);
  const { priv } = keyFiles(alg);
  const result = opa(['build', '-b', '-t', 'wasm', '-e', 'envoy/authz/allow', '--signing-key', priv, '--signing-alg', alg, ...extra, '-o', out, '.']);
  expect(result.output).toBe('');
  expect(result.ok).toBe(true);
  return out;
}

function tarGz(files: Map<string, Buffer>): Buffer {
  return gzipSync(Buffer.concat([...[...files].map(([name, bytes]) => tarEntry(`/${name}`, bytes)), Buffer.alloc(1024)]));
}

const publicKeyPem = (alg: SignatureAlgorithm) => readFileSync(keyFiles(alg).pub, 'utf8');

beforeAll(() => {
  dir = tempDir('gatehouse-signing-');
  src = path.join(dir, 'src');
  mkdirSync(path.join(src, 'policies'), { recursive: true });
  writeFileSync(path.join(src, 'policies/authz.rego'), POLICY);
  writeFileSync(path.join(src, 'data.json'), DATA);
});

describe.skipIf(tool.skip)('bundles signed by opa build verify in gatehouse', () => {
  it.each<SignatureAlgorithm>(['RS256', 'RS512', 'PS256', 'PS384', 'ES256', 'ES384', 'ES512'])('%s', (alg) => {
    const files = readTarGz(readFileSync(opaSigned(alg)), LIMITS);
    expect([...files.keys()].sort()).toEqual(['.manifest', '.signatures.json', 'data.json', 'policies/authz.rego', 'policy.wasm']);
    // opa build names the key "default" (its --verification-key-id default) in kid and the keyid claim.
    const config = { keys: { default: { algorithm: alg, publicKeyPem: publicKeyPem(alg) } } };
    expect(verifyBundleSignatures(files, config)).toEqual({ keyId: 'default', algorithm: alg, signedFiles: 4 });

    const tampered = new Map(files).set('data.json', Buffer.from(DATA.replace('"GET"', '"DELETE"')));
    expect(() => verifyBundleSignatures(tampered, config)).toThrow('file "data.json" was modified after signing');
  });

  it('with --claims-file: the scope is enforced and the key comes from defaultKeyId (the token names none)', () => {
    const claims = path.join(dir, 'claims.json');
    writeFileSync(claims, JSON.stringify({ scope: 'prod', iss: 'ci' }));
    const files = readTarGz(readFileSync(opaSigned('ES256', ['--claims-file', claims])), LIMITS);
    const keys = { ci: { algorithm: 'ES256' as const, publicKeyPem: publicKeyPem('ES256') } };
    expect(verifyBundleSignatures(files, { keys, defaultKeyId: 'ci', scope: 'prod' }).keyId).toBe('ci');
    expect(() => verifyBundleSignatures(files, { keys, defaultKeyId: 'ci' })).toThrow('scope mismatch: the token has "prod", expected ""');
    expect(() => verifyBundleSignatures(files, { keys })).toThrow('names no key ("kid") and no default key id is configured');
  });

  it('opa build --verification-key-id names the key (kid and keyid claim); gatehouse selects it by that name', () => {
    const files = readTarGz(readFileSync(opaSigned('RS256', ['--verification-key-id', 'prod-2025'])), LIMITS);
    const key = { algorithm: 'RS256' as const, publicKeyPem: publicKeyPem('RS256') };
    expect(verifyBundleSignatures(files, { keys: { 'prod-2025': key } }).keyId).toBe('prod-2025');
    expect(() => verifyBundleSignatures(files, { keys: { default: key }, defaultKeyId: 'default' })).toThrow('unknown key id "prod-2025" (configured: default)');
  });

  it('an OPA-signed bundle with the cache analysis appended afterwards (what gatehouse build does today) is rejected', () => {
    const archive = gunzipSync(readFileSync(opaSigned('RS256')));
    const appended = appendToTar(archive, tarEntry(`/${CACHE_ANALYSIS_FILE}`, Buffer.from('{"fields": []}\n')));
    const files = readTarGz(gzipSync(appended), LIMITS);
    const config = { keys: { default: { algorithm: 'RS256' as const, publicKeyPem: publicKeyPem('RS256') } } };
    expect(() => verifyBundleSignatures(files, config)).toThrow(`file "${CACHE_ANALYSIS_FILE}" is not covered by the signature`);
  });
});

describe.skipIf(tool.skip)('bundles signed by gatehouse verify in OPA', () => {
  it.each<SignatureAlgorithm>(['RS256', 'PS256', 'ES256', 'ES512'])('%s, after appending the cache analysis', (alg) => {
    // An unsigned wasm bundle, plus the analysis, re-signed as `gatehouse build --signing-key` would.
    const unsigned = path.join(dir, `unsigned-${alg}.tar.gz`);
    expect(opa(['build', '-t', 'wasm', '-e', 'envoy/authz/allow', '-o', unsigned, '.']).ok).toBe(true);
    const files = readTarGz(readFileSync(unsigned), LIMITS);
    files.set(CACHE_ANALYSIS_FILE, Buffer.from('{"fields": [["attributes", "request", "http", "method"]]}\n'));
    const { priv, pub } = keyFiles(alg);
    files.set('.signatures.json', signBundleFiles(files, { keyId: 'gatehouse', privateKeyPem: readFileSync(priv, 'utf8'), algorithm: alg, scope: 'prod' }));

    expect(verifyBundleSignatures(files, { keys: { gatehouse: { algorithm: alg, publicKeyPem: readFileSync(pub, 'utf8') } }, scope: 'prod' }).signedFiles).toBe(5);

    const verifyInOpa = (bundle: Map<string, Buffer>) => {
      const file = path.join(dir, `gatehouse-${alg}.tar.gz`);
      writeFileSync(file, tarGz(bundle));
      return opa(['build', '-b', file, '--verification-key', pub, '--verification-key-id', 'gatehouse', '--signing-alg', alg, '--scope', 'prod', '-o', path.join(dir, 'out.tar.gz')]);
    };
    const accepted = verifyInOpa(files);
    expect(accepted.output).toBe('');
    expect(accepted.ok).toBe(true);
    // And OPA really checks: the same bundle with a changed analysis fails there too.
    const tampered = verifyInOpa(new Map(files).set(CACHE_ANALYSIS_FILE, Buffer.from('{"fields": []}\n')));
    expect(tampered.ok).toBe(false);
    expect(tampered.output).toContain(`${CACHE_ANALYSIS_FILE}: digest mismatch`);
  });
});
