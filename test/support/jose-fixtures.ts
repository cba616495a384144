/**
 * Keys and tokens for the io.jwt/crypto builtin tests, made independently of the code under test:
 * node:crypto signs, openssl issues certificates. Also the two ways to run a builtin that the
 * differential tests compare: OPA's CLI (`opa eval`) and gatehouse's host function called directly.
 */
import { execFileSync } from 'node:child_process';
import { constants, createHmac, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseJsonExact } from '../../src/policy/rego-value.js';
import { buildBundle } from '../../src/policy/build.js';
import { HOST_BUILTINS } from '../../src/policy/builtins/all.js';
import { readBundle } from '../../src/policy/bundle.js';
import { WasmPolicy } from '../../src/policy/evaluator.js';
import type { BuiltinContext, RegoValue } from '../../src/policy/builtins/types.js';

export interface TestKey {
  name: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** PEM "PUBLIC KEY". */
  spki: string;
}

export function rsaKey(name: string, bits: number): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return { name, privateKey, publicKey, spki: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export function ecKey(name: string, curve: 'P-256' | 'P-384' | 'P-521'): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
  return { name, privateKey, publicKey, spki: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export function edKey(name: string): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { name, privateKey, publicKey, spki: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** A self-signed certificate for `key`, made by openssl. */
export function selfSigned(dir: string, key: TestKey, subject = `/CN=${key.name}`, ...extensions: string[]): string {
  const keyFile = path.join(dir, `${key.name}.key`);
  const certFile = path.join(dir, `${key.name}.crt`);
  writeFileSync(keyFile, key.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const args = ['req', '-x509', '-key', keyFile, '-out', certFile, '-days', '2', '-subj', subject];
  for (const ext of extensions) args.push('-addext', ext);
  execFileSync('openssl', args, { stdio: 'ignore' });
  return execFileSync('cat', [certFile]).toString();
}

export function jwkOf(key: KeyObject, extra: Record<string, string> = {}): Record<string, unknown> {
  return { ...key.export({ format: 'jwk' }), ...extra };
}

const b64 = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** A compact JWS signed with node:crypto (not with the code under test). */
export function signToken(header: Record<string, unknown>, payload: Record<string, unknown> | string, alg: string, key: KeyObject | string): string {
  const input = `${b64(JSON.stringify(header))}.${b64(typeof payload === 'string' ? payload : JSON.stringify(payload))}`;
  const data = Buffer.from(input);
  const hash = `sha${alg.slice(2)}`;
  let signature: Buffer;
  if (alg === 'none') signature = Buffer.alloc(0);
  else if (typeof key === 'string') signature = createHmac(hash, key).update(data).digest();
  else if (alg.startsWith('RS')) signature = sign(hash, data, key);
  else if (alg.startsWith('PS')) signature = sign(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 });
  else if (alg.startsWith('ES')) signature = sign(hash, data, { key, dsaEncoding: 'ieee-p1363' });
  else if (alg === 'EdDSA' || alg === 'Ed25519') signature = sign(null, data, key);
  else signature = Buffer.alloc(0);
  return `${input}.${b64(signature)}`;
}

/** A builtin context with a fixed clock that records validUntilNs calls. */
export function testContext(nowNs = 1_700_000_000_000_000_000n): BuiltinContext & { validUntil: bigint[] } {
  const validUntil: bigint[] = [];
  return { nowNs: () => nowNs, memo: new Map(), print: () => undefined, validUntilNs: (ns) => validUntil.push(ns), validUntil };
}

/** gatehouse's host builtin, called directly; a throw is `undefined`, as the Wasm runtime makes it. */
export function callHost(name: string, args: RegoValue[], ctx: BuiltinContext = testContext()): RegoValue | undefined {
  const builtin = HOST_BUILTINS.get(name);
  if (!builtin) throw new Error(`no host builtin ${name}`);
  try {
    return builtin.fn(ctx, ...args);
  } catch {
    return undefined;
  }
}

/** The oracle policy: `out[i] := <name>(args...)` for each call, so an error leaves `out[i]` out. */
function oraclePolicy(calls: { name: string; args: RegoValue[] }[]): string {
  const byArity = new Map<string, number>();
  for (const call of calls) byArity.set(call.name, call.args.length);
  const rules = [...byArity].map(([name, arity], i) => {
    const args = Array.from({ length: arity }, (_, j) => `c.args[${j}]`).join(', ');
    return `out[i] := ${name}(${args}) if {\n  some i, c in input.calls\n  c.name == "${name}"\n}\n# ${i}`;
  });
  return `package t\n\n${rules.join('\n\n')}\n`;
}

/**
 * Evaluate every call with `opa eval` in one run; a call that is an error (undefined) is missing
 * from the result.
 */
export function opaEvalCalls(opa: string, dir: string, calls: { name: string; args: RegoValue[] }[]): Map<number, unknown> {
  const policy = oraclePolicy(calls);
  const policyFile = path.join(dir, 'oracle.rego');
  const inputFile = path.join(dir, 'oracle-input.json');
  writeFileSync(policyFile, policy);
  writeFileSync(inputFile, exactJson({ calls }));
  const stdout = execFileSync(opa, ['eval', '--format', 'json', '-d', policyFile, '-i', inputFile, 'data.t.out'], { maxBuffer: 256 << 20 }).toString();
  const parsed = parseJsonExact(stdout) as { result?: { expressions: { value: Record<string, unknown> }[] }[] };
  const value = parsed.result?.[0]?.expressions[0]?.value ?? {};
  return new Map(Object.entries(value).map(([k, v]) => [Number(k), v]));
}

/**
 * The same calls end to end through gatehouse: the oracle policy built by `gatehouse build`'s code
 * (OPA's Wasm compiler, the catalogue's capabilities), loaded and evaluated as serve does.
 */
export async function wasmEvalCalls(opa: string, dir: string, calls: { name: string; args: RegoValue[] }[], wallClockNs: () => bigint): Promise<Map<number, unknown>> {
  const src = path.join(dir, 'wasm-src');
  mkdirSync(src, { recursive: true });
  writeFileSync(path.join(src, 'oracle.rego'), oraclePolicy(calls));
  const out = path.join(dir, 'oracle.tar.gz');
  buildBundle({ opa, policies: src, out, entrypoint: 't/out', log: () => undefined });
  const policy = await WasmPolicy.load(await readBundle(out, { maxBytes: 1 << 26 }), {
    entrypoint: 't/out',
    maxMemoryBytes: 1 << 28,
    cache: { mode: 'off', ttlMs: 0, keyFields: [], nondeterministicTtlMs: 0 },
    wallClockNs,
  });
  const input = new TextEncoder().encode(exactJson({ calls }));
  const rows = parseJsonExact(policy.evaluateJson(input)) as { result?: Record<string, unknown> }[];
  const value = rows[0]?.result ?? {};
  return new Map(Object.entries(value).map(([k, v]) => [Number(k), v]));
}

/** JSON with bigints written exactly and sets as arrays. */
export function exactJson(value: unknown): string {
  if (value === undefined) return 'undefined';
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `__big${v}` : v instanceof Set ? [...v] : v)).replace(/"__big(-?\d+)"/g, '$1');
}

/** A host result in the shape opa eval prints (sets as arrays, Maps as objects), for toEqual. */
export function plain(value: RegoValue | undefined): unknown {
  if (value === undefined) return undefined;
  return parseJsonExact(exactJson(value));
}

/** Equal as Rego results: exact numbers, object key order aside. */
export function sameResult(a: unknown, b: unknown): boolean {
  return exactJson(a) === exactJson(b) || isDeepStrictEqual(a, b);
}

/** Where two results differ: paths with both values (exact numbers). */
function differences(a: unknown, b: unknown, at: string): string[] {
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`));
  }
  return sameResult(a, b) ? [] : [`${at || 'result'}: gatehouse ${exactJson(a).slice(0, 200)} opa ${exactJson(b).slice(0, 200)}`];
}

/** The calls whose result `got(i)` is not OPA's `want.get(i)`, each with where it differs. */
export function mismatches(calls: { label: string }[], got: (i: number) => unknown, want: Map<number, unknown>): string[] {
  return calls.flatMap((call, i) => {
    const ours = got(i);
    const theirs = want.get(i);
    return sameResult(ours, theirs) ? [] : [`${call.label}: ${differences(ours, theirs, '').slice(0, 5).join('; ')}`];
  });
}

/** The shared seeded generator, under the name these tests use. */
export { seededRandom as seeded } from './seeded-random.js';
