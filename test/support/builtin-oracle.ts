/**
 * Differential testing of builtins: the same calls evaluated by `opa eval` (the oracle, OPA's Go
 * implementation) and by gatehouse (policy.wasm compiled by the real OPA, run by gatehouse's Wasm
 * runtime with its host builtins). All cases of a test file go through one `opa eval` and one
 * Wasm evaluation: the arguments travel in `input` (never as literals, so no compiler can fold the
 * calls), one rule per builtin name writes `r[case index]`, and a case whose call is undefined or
 * an error is simply absent from `r`. Set GATEHOUSE_ORACLE_DIR to a folder to keep the generated
 * module, input and bundle there for a closer look.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { expect } from 'vitest';
import type { RegoValue } from '../../src/policy/builtins/types.js';
import { compareValues } from '../../src/policy/builtins/value-order.js';
import { parseJsonExact } from '../../src/policy/rego-value.js';
import { readTar } from '../../src/policy/tar.js';
import { OpaWasmInstance } from '../../src/policy/wasm-runtime.js';
import { tempDir } from './policy.js';
import { loadAllHostBuiltins } from '../../src/policy/builtins/catalogue.js';

// The host builtin families load on demand (catalogue.ts); these evaluations call OpaWasmInstance directly.
await loadAllHostBuiltins();

export interface BuiltinCase {
  builtin: string;
  /** Arguments; a Set is allowed at the top level (it reaches the builtin as a Rego set). */
  args: RegoValue[];
}

/** Outcome per case: the result as JSON-like data (sets as sorted arrays), or undefined. */
export type Outcome = unknown;

/** JSON text with exact big integers (top-level sets are sent as arrays and rebuilt in Rego). */
function json(value: RegoValue): string {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value) || value instanceof Set) return `[${[...value].map(json).join(',')}]`;
  if (value instanceof Map) throw new Error('non-string object keys cannot travel in input');
  return `{${Object.keys(value).map((k) => `${JSON.stringify(k)}:${json(value[k]!)}`).join(',')}}`;
}

function inputText(cases: readonly BuiltinCase[]): string {
  const items = cases.map((c) => {
    const sets = c.args.flatMap((a, i) => (a instanceof Set ? [i] : []));
    return `{"b":${JSON.stringify(c.builtin)},"s":${JSON.stringify(sets)},"a":[${c.args.map(json).join(',')}]}`;
  });
  return `{"cases":[${items.join(',\n')}]}`;
}

function moduleText(cases: readonly BuiltinCase[]): string {
  const arities = new Map<string, number>();
  for (const c of cases) arities.set(c.builtin, c.args.length);
  const rules = [...arities].map(([name, n]) => {
    const args = Array.from({ length: n }, (_, i) => `arg(c, ${i})`).join(', ');
    return `r[k] := ${name}(${args}) if {\n\tsome k\n\tc := input.cases[k]\n\tc.b == ${JSON.stringify(name)}\n}`;
  });
  return [
    'package diff',
    'is_set_arg(c, i) if {\n\tsome j\n\tc.s[j] == i\n}',
    'arg(c, i) := {e | some e in c.a[i]} if is_set_arg(c, i)',
    'arg(c, i) := c.a[i] if not is_set_arg(c, i)',
    ...rules,
    '',
  ].join('\n\n');
}

/** Sets as sorted arrays, objects with sorted keys: a form both sides can be compared in. */
function normalise(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(normalise);
  if (value instanceof Set) return [...value].sort((a, b) => compareValues(a as RegoValue, b as RegoValue)).map(normalise);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = normalise((value as Record<string, unknown>)[key]);
  return out;
}

/** `r` (case index → result) as an array of outcomes. */
function outcomes(r: unknown, count: number): Outcome[] {
  const record = (r ?? {}) as Record<string, unknown>;
  return Array.from({ length: count }, (_, i) => (Object.hasOwn(record, String(i)) ? normalise(record[String(i)]) : undefined));
}

/** Evaluate every case with `opa eval` and with gatehouse. */
export function evaluateBoth(opa: string, cases: readonly BuiltinCase[]): { opa: Outcome[]; gatehouse: Outcome[] } {
  const dir = process.env.GATEHOUSE_ORACLE_DIR ?? tempDir('gatehouse-builtin-diff-');
  const policy = path.join(dir, 'diff.rego');
  const input = path.join(dir, 'input.json');
  writeFileSync(policy, moduleText(cases));
  writeFileSync(input, inputText(cases));

  const evaluated = execFileSync(opa, ['eval', '--format', 'json', '-d', policy, '-i', input, 'data.diff.r'], { maxBuffer: 256 << 20 }).toString();
  const oracle = parseJsonExact(evaluated) as { result?: { expressions: { value: unknown }[] }[] };
  const opaR = oracle.result?.[0]?.expressions[0]?.value;

  const bundle = path.join(dir, 'bundle.tar.gz');
  execFileSync(opa, ['build', '-t', 'wasm', '-e', 'diff/r', '-o', bundle, policy], { stdio: 'pipe' });
  const wasm = readTar(gunzipSync(readFileSync(bundle))).get('/policy.wasm') ?? readTar(gunzipSync(readFileSync(bundle))).get('policy.wasm');
  if (!wasm) throw new Error('the bundle has no policy.wasm');
  const instance = OpaWasmInstance.load(wasm, new TextEncoder().encode('{}'), {
    maxMemoryBytes: 512 << 20,
    wallClockNs: () => 0n,
    print: () => undefined,
  });
  const resultSet = parseJsonExact(instance.evaluateJson(readFileSync(input), instance.entrypoints['diff/r']!)) as { result: unknown }[];
  return { opa: outcomes(opaR, cases.length), gatehouse: outcomes(resultSet[0]?.result, cases.length) };
}

/** The cases whose outcomes differ, for a readable assertion. */
export function differences(cases: readonly BuiltinCase[], both: { opa: Outcome[]; gatehouse: Outcome[] }): string[] {
  const show = (v: unknown) => (v === undefined ? 'undefined' : JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)));
  const out: string[] = [];
  cases.forEach((c, i) => {
    const a = show(both.opa[i]);
    const b = show(both.gatehouse[i]);
    if (a !== b) out.push(`${c.builtin}(${c.args.map((x) => show(x instanceof Set ? [...x] : x)).join(', ')}): opa ${a}, gatehouse ${b}`);
  });
  return out;
}

/**
 * Evaluate `cases` both ways and assert that no case differs, and that the comparison means
 * something: at least `minDefined` (a share, 0–1) of the cases are defined in OPA and, with
 * `someUndefined`, at least one is not (so error paths are compared too).
 */
export function expectSameAsOpa(
  opa: string,
  cases: readonly BuiltinCase[],
  options: { minDefined: number; someUndefined?: boolean },
): { opa: Outcome[]; gatehouse: Outcome[] } {
  const both = evaluateBoth(opa, cases);
  expect(differences(cases, both)).toEqual([]);
  expect(both.opa.filter((v) => v !== undefined).length).toBeGreaterThanOrEqual(cases.length * options.minDefined);
  if (options.someUndefined) expect(both.opa.some((v) => v === undefined)).toBe(true);
  return both;
}
