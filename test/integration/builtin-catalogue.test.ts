/**
 * The builtin catalogue (src/policy/builtins/catalogue.ts) against the pinned OPA itself: which
 * builtins OPA's Wasm compiler builds into policy.wasm is measured again here (a policy calling
 * every builtin, compiled by `opa build -t wasm`, and the builtins the module imports), and every
 * builtin OPA knows must be native, a host builtin, or refused with a reason.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { HOST_BUILTINS } from '../../src/policy/builtins/all.js';
import { OPA_VERSION, REFUSED_BUILTINS, WASM_NATIVE_BUILTINS, builtinSupport, isNondeterministicBuiltin } from '../../src/policy/builtins/catalogue.js';
import type { HostBuiltin } from '../../src/policy/builtins/types.js';
import { readTar } from '../../src/policy/tar.js';
import { OpaWasmInstance } from '../../src/policy/wasm-runtime.js';
import { tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

interface Capability {
  name: string;
  decl: { args?: unknown[] };
  infix?: string;
  nondeterministic?: boolean;
}

/** Operators and `print` cannot be called as plain functions whose value is used. */
const NOT_CALLABLE = new Set(['print', 'eq', 'assign', 'equal', 'neq', 'gt', 'gte', 'lt', 'lte']);

describe.skipIf(tool.skip)('builtin catalogue', () => {
  let capabilities: Capability[];
  let imported: Set<string>;

  beforeAll(() => {
    const version = execFileSync(tool.opa, ['version'], { encoding: 'utf8' });
    expect(version).toContain(`Version: ${OPA_VERSION}`);
    capabilities = (JSON.parse(execFileSync(tool.opa, ['capabilities', '--current'], { encoding: 'utf8' })) as { builtins: Capability[] }).builtins;
    // v0 syntax, so the deprecated builtins (cast_*, re_match, ...) compile too.
    const calls = capabilities
      .filter((b) => !b.name.startsWith('internal.') && !NOT_CALLABLE.has(b.name))
      .map((b, i) => `r${i} = x { x := ${b.name}(${(b.decl.args ?? []).map((_, k) => `input.a${k}`).join(', ')}) }`);
    const dir = tempDir('gatehouse-catalogue-');
    writeFileSync(path.join(dir, 'p.rego'), `package p\n${calls.join('\n')}\nprinted { print(input.x) }\n`);
    const out = path.join(dir, 'b.tar.gz');
    execFileSync(tool.opa, ['build', '--v0-compatible', '-t', 'wasm', '--wasm-include-print', '-e', 'p', '-o', out, path.join(dir, 'p.rego')], { stdio: 'pipe' });
    const wasm = readTar(gunzipSync(readFileSync(out))).get('policy.wasm')!;
    const everything = new Map<string, HostBuiltin>(capabilities.map((b) => [b.name, { fn: () => null }]));
    const instance = OpaWasmInstance.load(wasm, Buffer.from('{}'), { maxMemoryBytes: 1 << 26, wallClockNs: () => 0n, print: () => undefined, builtins: everything });
    imported = new Set(instance.importedBuiltins);
  }, 120_000);

  it('lists as native exactly the builtins OPA compiles into policy.wasm', () => {
    const measuredNative = capabilities.map((b) => b.name).filter((name) => name !== 'print' && !imported.has(name)).sort();
    expect([...WASM_NATIVE_BUILTINS].sort()).toEqual(measuredNative);
  });

  it('implements or refuses, with a reason, every builtin the module can import', () => {
    const unaccounted = [...imported].filter((name) => !HOST_BUILTINS.has(name) && !REFUSED_BUILTINS.has(name));
    expect(unaccounted).toEqual([]);
    for (const name of imported) expect(WASM_NATIVE_BUILTINS).not.toContain(name);
  });

  it('knows every builtin of OPA and nothing else', () => {
    const known = new Set(capabilities.map((b) => b.name));
    const unknown = capabilities.map((b) => b.name).filter((name) => builtinSupport(name).kind === 'unknown');
    expect(unknown).toEqual([]);
    const extra = [...WASM_NATIVE_BUILTINS, ...HOST_BUILTINS.keys(), ...REFUSED_BUILTINS.keys()].filter((name) => !known.has(name));
    expect(extra).toEqual([]);
  });

  it('treats every builtin OPA marks non-deterministic as such (the decision cache depends on it)', () => {
    const flagged = capabilities.filter((b) => b.nondeterministic).map((b) => b.name);
    expect(flagged.length).toBeGreaterThan(5);
    // opa.runtime is a constant in gatehouse (an empty object: no OPA runtime), so caching it is safe.
    const constantHere = new Set(['opa.runtime']);
    expect(flagged.filter((name) => !isNondeterministicBuiltin(name) && !constantHere.has(name))).toEqual([]);
    // Results that depend on the clock although OPA does not flag them.
    for (const name of ['crypto.x509.parse_and_verify_certificates', 'crypto.x509.parse_and_verify_certificates_with_options']) {
      expect(isNondeterministicBuiltin(name), name).toBe(true);
    }
  });
});
