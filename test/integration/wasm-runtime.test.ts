/**
 * gatehouse's OPA Wasm ABI host (src/policy/wasm-runtime.ts) with policies compiled by the real
 * OPA: how values cross the host-builtin boundary (sets, big integers), what a failing builtin
 * does, print, the per-evaluation clock and memo, and how refused builtins are reported at build
 * and load. The builtins here are the test's own, so this checks the ABI, not any family.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BuiltinContext, HostBuiltin, RegoValue } from '../../src/policy/builtins/types.js';
import { BuiltinError } from '../../src/policy/builtins/types.js';
import { parseJsonExact } from '../../src/policy/rego-value.js';
import { readTar } from '../../src/policy/tar.js';
import { OpaWasmInstance } from '../../src/policy/wasm-runtime.js';
import { buildBundle as gatehouseBuild } from '../../src/policy/build.js';
import { readBundle } from '../../src/policy/bundle.js';
import { WasmPolicy } from '../../src/policy/evaluator.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

/** Compile with the plain OPA CLI (any builtin), as gatehouse build does. */
function compile(rego: string, entrypoint = 't/out', extra: string[] = []): Buffer {
  const dir = tempDir('gatehouse-abi-');
  const file = path.join(dir, 'p.rego');
  execFileSync('sh', ['-c', 'cat > "$1"', 'sh', file], { input: rego });
  const out = path.join(dir, 'b.tar.gz');
  execFileSync(tool.opa, ['build', '-t', 'wasm', '--wasm-include-print', '-e', entrypoint, ...extra, '-o', out, file], { stdio: 'pipe' });
  return readTar(gunzipSync(readFileSync(out))).get('policy.wasm')!;
}

const seen: { name: string; args: RegoValue[] }[] = [];
const printed: [string, string | undefined][] = [];
const record = (name: string, fn: (ctx: BuiltinContext, ...args: RegoValue[]) => RegoValue | undefined): HostBuiltin => ({
  fn: (ctx, ...args) => {
    seen.push({ name, args });
    return fn(ctx, ...args);
  },
});
const BUILTINS = new Map<string, HostBuiltin>([
  // echo: hands its argument back as it arrived; a Set comes back as a set
  ['yaml.marshal', record('yaml.marshal', (_ctx, value) => value)],
  ['net.cidr_expand', record('net.cidr_expand', () => new Set(['a', 'b', 'b', 'c']))],
  ['time.now_ns', record('time.now_ns', (ctx) => ctx.nowNs())],
  ['hex.decode', record('hex.decode', () => {
    throw new BuiltinError('hex.decode', 'not hex');
  })],
  ['uuid.rfc4122', record('uuid.rfc4122', (ctx, key) => {
    const k = String(key);
    if (!ctx.memo.has(k)) ctx.memo.set(k, `id-${ctx.memo.size}-${Math.random()}`);
    return ctx.memo.get(k);
  })],
  ['io.jwt.decode', record('io.jwt.decode', (ctx) => {
    ctx.validUntilNs(2_000_000_000_000_000_000n);
    ctx.validUntilNs(1_900_000_000_000_000_000n);
    return [];
  })],
  ['internal.print', record('internal.print', (ctx, args) => {
    ctx.print((args as RegoValue[]).map((s) => [...(s as Set<RegoValue>)].join('|') || '<undefined>').join(' '));
    return null;
  })],
]);

let clock = 1_732_912_345_123_456_789n;
function load(wasm: Buffer, data = '{}'): OpaWasmInstance {
  return OpaWasmInstance.load(wasm, Buffer.from(data), {
    maxMemoryBytes: 1 << 26,
    wallClockNs: () => clock++,
    print: (message, id) => printed.push([message, id]),
    builtins: BUILTINS,
  });
}

function run(instance: OpaWasmInstance, input: unknown, call = {}): unknown {
  return parseJsonExact(instance.evaluateJson(Buffer.from(JSON.stringify(input)), instance.entrypoints['t/out']!, call));
}

describe.skipIf(tool.skip)('OPA Wasm ABI host', () => {
  let values: OpaWasmInstance;
  beforeAll(() => {
    values = load(compile(`package t
set_arg := yaml.marshal({1, "a", [2]})
object_arg := yaml.marshal({"k": {"nested": {3}}})
big_arg := yaml.marshal(12345678901234567890123)
set_result_size := count(net.cidr_expand("x"))
set_result_member := "b" in net.cidr_expand("x")
now_twice_equal := time.now_ns() == time.now_ns()
now := time.now_ns()
now_plus_one := time.now_ns() + 1
memo_same := uuid.rfc4122("k") == uuid.rfc4122("k")
memo_other := uuid.rfc4122("k") != uuid.rfc4122("other")
not_failed if not hex.decode("zz")
out := {"set_arg": set_arg, "object_arg": object_arg, "big_arg": big_arg, "set_result_size": set_result_size,
  "set_result_member": set_result_member, "now_twice_equal": now_twice_equal, "now": now, "now_plus_one": now_plus_one,
  "memo_same": memo_same, "memo_other": memo_other, "not_failed": not_failed}`));
  });

  it('hands sets, nested sets and big integers to builtins exactly and gets sets back as sets', () => {
    seen.length = 0;
    const [{ result }] = run(values, { n: 9007199254740993n.toString() }) as [{ result: Record<string, unknown> }];
    const args = seen.filter((s) => s.name === 'yaml.marshal').map((s) => s.args[0]);
    expect(args).toContainEqual(new Set([1, 'a', [2]]));
    expect(args).toContainEqual(Object.assign(Object.create(null), { k: Object.assign(Object.create(null), { nested: new Set([3]) }) }));
    expect(args).toContainEqual(12345678901234567890123n);
    expect(result.set_result_size).toBe(3);
    expect(result.set_result_member).toBe(true);
    expect(result.big_arg).toBe(12345678901234567890123n);
  });

  it('fixes time.now_ns for one evaluation, keeps it exact beyond 2^53, and moves on for the next', () => {
    const first = (run(values, {}) as [{ result: Record<string, unknown> }])[0].result;
    const second = (run(values, {}) as [{ result: Record<string, unknown> }])[0].result;
    expect(first.now_twice_equal).toBe(true);
    expect(typeof first.now).toBe('bigint');
    expect(first.now_plus_one).toBe((first.now as bigint) + 1n);
    expect(second.now).not.toBe(first.now);
  });

  it('memoises per evaluation, and a failing builtin is undefined (not an error), reported on the call', () => {
    const call: { builtinErrors?: string[] } = {};
    const [{ result }] = run(values, {}, call) as [{ result: Record<string, unknown> }];
    expect(result.memo_same).toBe(true);
    expect(result.memo_other).toBe(true);
    expect(result.not_failed).toBe(true);
    expect(call.builtinErrors).toEqual(['hex.decode: not hex']);
  });

  it('sends print lines to the print hook with the decision id, undefined values marked', () => {
    const instance = load(compile(`package t
out if { print("hello", input.who, input.missing) }`));
    printed.length = 0;
    expect(run(instance, { who: 'you' }, { decisionId: 'dec-1' })).toEqual([{ result: true }]);
    expect(printed).toEqual([['hello you <undefined>', 'dec-1']]);
  });

  it('keeps the earliest validUntilNs a builtin reports', () => {
    const instance = load(compile(`package t
out if { count(io.jwt.decode("x")) == 0 }`));
    const call: { validUntilNs?: bigint } = {};
    expect(run(instance, {}, call)).toEqual([{ result: true }]);
    expect(call.validUntilNs).toBe(1_900_000_000_000_000_000n);
  });

  it('loads data.json with exact numbers and answers undefined as []', () => {
    const instance = load(compile(`package t
out := data.big + 1 if input.go`), '{"big": 1732912345123456789}');
    expect(run(instance, { go: true })).toEqual([{ result: 1732912345123456790n }]);
    expect(run(instance, {})).toEqual([]);
  });

  it('turns a policy error into a thrown error and stays usable', () => {
    const instance = load(compile(`package t
f(x) := 1 if x
f(x) := 2 if x
out := f(input.x)`));
    expect(() => run(instance, { x: true })).toThrow(/functions must not produce multiple outputs|conflict/);
    expect(run(instance, { x: false })).toEqual([]);
  });

  it('fails an evaluation whose input does not fit in max memory, and the next one still runs', () => {
    const instance = OpaWasmInstance.load(compile('package t\nout := count(input.s)'), Buffer.from('{}'), {
      maxMemoryBytes: 2 << 20, wallClockNs: () => 0n, print: () => undefined, builtins: BUILTINS,
    });
    expect(() => run(instance, { s: 'x'.repeat(4 << 20) })).toThrow(RangeError);
    expect(run(instance, { s: 'abc' })).toEqual([{ result: 3 }]);
  });

  it('refuses at load a module importing a builtin nobody provides, naming it', () => {
    expect(() => load(compile('package t\nout := crypto.sha256(input.x)'))).toThrow(/crypto\.sha256: not implemented by gatehouse/);
  });
});

describe.skipIf(tool.skip)('refused builtins at build and load', () => {
  const HTTP_SEND = `package envoy.authz
allow if http.send({"method": "GET", "url": "http://127.0.0.1:1"}).status_code == 200`;

  it('gatehouse build names http.send with the reason and leaves no bundle', () => {
    const dir = tempDir();
    const out = path.join(dir, 'b.tar.gz');
    expect(() => buildBundle(tool.opa, { 'p.rego': HTTP_SEND }, out)).toThrow(/http\.send: it makes a network call in the middle of a Check.*bundle data/s);
    expect(() => readFileSync(out)).toThrow(/ENOENT/);
  });

  it('a bundle built by plain opa build is refused at load with the same reason', async () => {
    const out = buildBundle(tool.opa, { 'p.rego': HTTP_SEND }, path.join(tempDir(), 'b.tar.gz'), { restrictBuiltins: false });
    const bundle = await readBundle(out, { maxBytes: 1 << 26 });
    await expect(WasmPolicy.load(bundle, { entrypoint: 'envoy/authz/allow', maxMemoryBytes: 1 << 26, cache: { mode: 'off', ttlMs: 1, keyFields: [], nondeterministicTtlMs: 0 } }))
      .rejects.toThrow(/http\.send: it makes a network call/);
  });

  it('shows OPA\'s own syntax error without builtin hints, and suggests --v0-compatible for pre-1.0 Rego', () => {
    const dir = tempDir();
    const v0 = 'package envoy.authz\ndefault allow = false\nallow { input.x == 1 }\n';
    let message = '';
    try {
      buildBundle(tool.opa, { 'p.rego': v0 }, path.join(dir, 'b.tar.gz'));
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/rego_parse_error/);
    expect(message).toMatch(/--v0-compatible/);
    expect(message).not.toMatch(/builtin/);
    const src = tempDir();
    execFileSync('sh', ['-c', 'cat > "$1"', 'sh', path.join(src, 'p.rego')], { input: v0 });
    const built = gatehouseBuild({ opa: tool.opa, policies: src, out: path.join(dir, 'v0.tar.gz'), entrypoint: 'envoy/authz/allow', v0Compatible: true, log: () => undefined });
    expect(built.revision).toMatch(/^sha256:/);
  });
});
