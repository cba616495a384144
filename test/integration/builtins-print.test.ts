/**
 * print(...) through the real Wasm path (compiled with --wasm-include-print, so it calls the host
 * builtin internal.print) against `opa eval`'s printed lines: value formatting, undefined operands,
 * `print()` with no operands. Also the v0 casts, which need a v0 policy.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseJsonExact } from '../../src/policy/rego-value.js';
import { readTar } from '../../src/policy/tar.js';
import { OpaWasmInstance } from '../../src/policy/wasm-runtime.js';
import { tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';
import { loadAllHostBuiltins } from '../../src/policy/builtins/catalogue.js';

// The host builtin families load on demand (catalogue.ts); these evaluations call OpaWasmInstance directly.
await loadAllHostBuiltins();

const tool = opaOrSkip();

const POLICY = `package p

p := true if {
\tprint("plain", 1, 1.5, -0.25, 12345678901234567890, null, true, false)
\tprint(["s", {"k": {2, 1}, "a": []}], {"b", "a"}, set(), {}, {"z": 1, "a": [null]})
\tprint("quote\\"d", ["quote\\"d", "tab\\t", "nl\\n", "é", "\\u0001", "\\u00a0", "😀"])
\tprint(input.missing, "after undefined")
\tprint()
}
`;

function build(dir: string, files: Record<string, string>, entrypoint: string, extra: string[] = []): Uint8Array {
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  const bundle = path.join(dir, 'bundle.tar.gz');
  execFileSync(tool.opa, ['build', '-t', 'wasm', '--wasm-include-print', ...extra, '-e', entrypoint, '-o', bundle, ...Object.keys(files).map((f) => path.join(dir, f))], { stdio: 'pipe' });
  const files2 = readTar(gunzipSync(readFileSync(bundle)));
  return (files2.get('/policy.wasm') ?? files2.get('policy.wasm'))!;
}

function evaluate(wasm: Uint8Array, entrypoint: string, input: string, lines: string[] = []): unknown {
  const instance = OpaWasmInstance.load(wasm, new TextEncoder().encode('{}'), {
    maxMemoryBytes: 64 << 20,
    wallClockNs: () => 0n,
    print: (line: string) => lines.push(line),
  });
  return parseJsonExact(instance.evaluateJson(new TextEncoder().encode(input), instance.entrypoints[entrypoint]!));
}

describe.skipIf(tool.skip)('print, the v0 casts and numbers as written, through the Wasm runtime', () => {
  it('writes numbers as the policy wrote them in json.marshal_with_options and the signed body of providers.aws.sign_req', () => {
    const dir = tempDir('gatehouse-numbers-');
    const policy = `package n

r := [
\tjson.marshal_with_options({"a": 1.0, "b": 1e3, "c": [2.50, 3], "d": 12345678901234567890, "e": -0.0}, {}),
\tjson.marshal_with_options({"x": [1.0, {1.50}]}, {"pretty": true, "indent": " "}),
\tproviders.aws.sign_req({"method": "POST", "url": "https://h/", "body": {"v": 1.0, "w": 1e3}}, {"aws_service": "s3", "aws_access_key": "k", "aws_secret_access_key": "s", "aws_region": "r"}, 0).headers,
]
`;
    const wasm = build(dir, { 'n.rego': policy }, 'n/r');
    const ours = (evaluate(wasm, 'n/r', '{}') as { result: unknown }[])[0]!.result;
    const theirs = JSON.parse(execFileSync(tool.opa, ['eval', '-d', path.join(dir, 'n.rego'), '--format', 'json', 'data.n.r']).toString()) as {
      result: { expressions: { value: unknown }[] }[];
    };
    expect(ours).toEqual(theirs.result[0]!.expressions[0]!.value);
    expect((ours as string[])[0]).toContain('"a":1.0');
  });

  it('prints the lines opa eval prints', () => {
    const dir = tempDir('gatehouse-print-');
    const wasm = build(dir, { 'p.rego': POLICY }, 'p/p');
    const lines: string[] = [];
    evaluate(wasm, 'p/p', '{}', lines);
    const oracle = spawnSync(tool.opa, ['eval', '-d', path.join(dir, 'p.rego'), '--format', 'json', 'data.p.p'], { encoding: 'utf8' });
    const expected = oracle.stderr.split('\n').filter((l) => l !== '');
    expect(expected.length).toBe(4);
    expect(lines.filter((l) => l !== '')).toEqual(expected);
    expect(lines).toContain('plain 1 1.5 -0.25 12345678901234567890 null true false');
    expect(lines).toContain('<undefined> after undefined');
  });

  it('evaluates the deprecated casts of a v0 policy as opa eval does', () => {
    const dir = tempDir('gatehouse-casts-');
    const policy = `package c

r = [a, b, c, d, e, f] {
\tcast_array({3, 1, 2}, a)
\tcast_set([1, 1, 2], b)
\tcast_string("s", c)
\tcast_boolean(true, d)
\tcast_null(null, e)
\tcast_object({"k": 1}, f)
}

bad_string { cast_string(1, _) }
bad_array { cast_array("x", _) }
`;
    const wasm = build(dir, { 'c.rego': policy }, 'c', ['--v0-compatible']);
    const ours = evaluate(wasm, 'c', '{}') as { result: unknown }[];
    const oracle = JSON.parse(execFileSync(tool.opa, ['eval', '--v0-compatible', '-d', path.join(dir, 'c.rego'), '--format', 'json', 'data.c']).toString()) as {
      result: { expressions: { value: unknown }[] }[];
    };
    const theirs = oracle.result[0]!.expressions[0]!.value as Record<string, unknown>;
    const mine = ours[0]!.result as Record<string, unknown>;
    const sortSet = (r: unknown[]) => [r[0], [...(r[1] as number[])].sort(), ...r.slice(2)];
    expect(sortSet(mine.r as unknown[])).toEqual(sortSet(theirs.r as unknown[]));
    expect(mine.bad_string).toBeUndefined();
    expect(theirs.bad_string).toBeUndefined();
    expect(mine.bad_array).toBeUndefined();
  });
});
