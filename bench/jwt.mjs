#!/usr/bin/env node
// Cost of JWT verification per call, in process (with node:crypto's bare signature check as the
// floor): io.jwt.decode_verify with RS256 (2048-bit),
// ES256 (P-256) and HS256 tokens, keys given as a JWKS string (parsed once, then memoised, as in a
// policy that verifies every request against the same key set), and io.jwt.verify_rs256 alone.
// Also the same decode_verify through a policy compiled to Wasm (one evaluation per call), which
// adds the OPA Wasm ABI round trip (arguments dumped, result parsed).
//   npm run build && node bench/jwt.mjs [--calls N]
import { constants, createHmac, generateKeyPairSync, sign, verify } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { HOST_BUILTINS } from '../dist/policy/builtins/all.js';
import { readBundle } from '../dist/policy/bundle.js';
import { WasmPolicy } from '../dist/policy/evaluator.js';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '20000' } } });
const calls = Number(values.calls);
const root = path.resolve(import.meta.dirname, '..');
const nowS = Math.floor(Date.now() / 1000);
const b64 = (data) => Buffer.from(data).toString('base64url');

function token(alg, key, kid) {
  const input = `${b64(JSON.stringify({ alg, typ: 'JWT', kid }))}.${b64(JSON.stringify({ iss: 'https://issuer.example', aud: 'svc', sub: 'alice', exp: nowS + 3600, nbf: nowS - 60 }))}`;
  const hash = `sha${alg.slice(2)}`;
  const signature = alg === 'HS256' ? createHmac(hash, key).update(input).digest()
    : alg === 'ES256' ? sign(hash, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
      : sign(hash, Buffer.from(input), { key, padding: constants.RSA_PKCS1_PADDING });
  return `${input}.${b64(signature)}`;
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwks = JSON.stringify({
  keys: [
    { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa', alg: 'RS256' },
    { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec', alg: 'ES256' },
  ],
});
const cases = [
  { name: 'decode_verify RS256 (JWKS, kid)', builtin: 'io.jwt.decode_verify', args: [token('RS256', rsa.privateKey, 'rsa'), { cert: jwks, aud: 'svc', iss: 'https://issuer.example' }] },
  { name: 'decode_verify ES256 (JWKS, kid)', builtin: 'io.jwt.decode_verify', args: [token('ES256', ec.privateKey, 'ec'), { cert: jwks, aud: 'svc', iss: 'https://issuer.example' }] },
  { name: 'decode_verify HS256 (secret)', builtin: 'io.jwt.decode_verify', args: [token('HS256', 'secret'), { secret: 'secret', aud: 'svc' }] },
  { name: 'verify_rs256 (JWKS)', builtin: 'io.jwt.verify_rs256', args: [token('RS256', rsa.privateKey, 'rsa'), jwks] },
  { name: 'verify_es256 (JWKS)', builtin: 'io.jwt.verify_es256', args: [token('ES256', ec.privateKey, 'ec'), jwks] },
];

const ctx = () => ({ nowNs: () => BigInt(Date.now()) * 1_000_000n, memo: new Map(), print: () => undefined, validUntilNs: () => undefined });

/** ns per call: the best of 5 rounds (a shared, busy machine only ever adds time). */
function measure(fn) {
  for (let i = 0; i < Math.min(1000, calls); i++) fn(); // warm up (and parse the keys once)
  const round = Math.max(1, Math.floor(calls / 5));
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < round; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / round);
  }
  return best;
}

const rows = [];
// Baselines: the signature check alone, as node:crypto does it (what no implementation can avoid).
const data = Buffer.from('x'.repeat(200));
const rsaSig = sign('sha256', data, rsa.privateKey);
const ecSig = sign('sha256', data, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
rows.push(['RS256 signature only', 'node:crypto verify', measure(() => verify('sha256', data, rsa.publicKey, rsaSig))]);
rows.push(['ES256 signature only', 'node:crypto verify', measure(() => verify('sha256', data, { key: ec.publicKey, dsaEncoding: 'ieee-p1363' }, ecSig))]);
for (const c of cases) {
  const builtin = HOST_BUILTINS.get(c.builtin);
  const result = builtin.fn(ctx(), ...c.args);
  const ok = Array.isArray(result) ? result[0] === true : result === true;
  if (!ok) throw new Error(`${c.name}: the token does not verify (${JSON.stringify(result)})`);
  rows.push([c.name, 'host function', measure(() => builtin.fn(ctx(), ...c.args))]);
}

// Through Wasm: `allow if io.jwt.decode_verify(input.token, input.constraints)[0]`.
const work = mkdtempSync(path.join(tmpdir(), 'gatehouse-bench-jwt-'));
mkdirSync(path.join(work, 'policy'));
writeFileSync(path.join(work, 'policy/p.rego'), 'package bench\n\nallow if io.jwt.decode_verify(input.token, input.constraints)[0]\n');
const bundlePath = path.join(work, 'bundle.tar.gz');
execFileSync(process.execPath, [path.join(root, 'dist/main.js'), 'build', '--policies', path.join(work, 'policy'), '--out', bundlePath, '--entrypoint', 'bench/allow'], { stdio: 'ignore' });
const policy = await WasmPolicy.load(await readBundle(bundlePath, { maxBytes: 1 << 26 }), {
  entrypoint: 'bench/allow', maxMemoryBytes: 1 << 28, cache: { mode: 'off', ttlMs: 0, keyFields: [], nondeterministicTtlMs: 0 },
});
for (const c of cases.filter((x) => x.builtin === 'io.jwt.decode_verify')) {
  const input = new TextEncoder().encode(JSON.stringify({ token: c.args[0], constraints: c.args[1] }));
  if (!policy.evaluateJson(input).includes('true')) throw new Error(`${c.name}: the policy does not allow`);
  rows.push([c.name, 'Wasm evaluation', measure(() => policy.evaluateJson(input))]);
}

console.log(`${calls} calls each (best of 5 rounds), node ${process.version}\n`);
console.log('| call | path | ns/op | µs/op |');
console.log('|---|---|---:|---:|');
for (const [name, where, ns] of rows) console.log(`| ${name} | ${where} | ${Math.round(ns)} | ${(ns / 1000).toFixed(1)} |`);
