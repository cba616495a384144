/**
 * The conformance cases as test/conformance/generate.mjs left them: OPA's YAML cases (fields as in
 * OPA's v1/test/cases/cases.go) with the Wasm module OPA's generator compiled for each.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseJsonExact } from '../../src/policy/rego-value.js';
// A plain ES module, shared with generate.mjs and report.mjs.
import { CONFORMANCE_FORMAT, OPA_VERSION, caseOutputDir } from './paths.mjs';

export { OPA_VERSION };

export interface ConformanceCase {
  /** Stable name: `<directory>/<file>.yaml/<note>` (OPA's directory and file under v1/test/cases/testdata/v1). */
  name: string;
  directory: string;
  note: string;
  query: string;
  wasm: Buffer;
  /** Numbers beyond ±2^53 are bigints (parseJsonExact). */
  data?: Record<string, unknown>;
  input?: unknown;
  /** Input as Rego text (may hold sets); overrides `input`. */
  input_term?: string;
  want_defined?: boolean;
  want_result?: Record<string, unknown>[];
  want_error?: string;
  want_error_code?: string;
  sort_bindings?: boolean;
  strict_error?: boolean;
  env?: Record<string, string>;
}

export interface Unrunnable {
  name: string;
  /** The generator's message. */
  reason: string;
}

/** Why the generated cases are not there, or undefined when they are (current version and format). */
export function generatedProblem(): string | undefined {
  const stamp = path.join(caseOutputDir(), 'stamp.json');
  if (!existsSync(stamp)) return `${stamp} is missing`;
  const { opa, format } = JSON.parse(readFileSync(stamp, 'utf8')) as { opa: string; format: number };
  if (opa !== OPA_VERSION || format !== CONFORMANCE_FORMAT) return `${stamp} is for OPA ${opa}, format ${format}`;
  return undefined;
}

export function caseDirectories(): string[] {
  return readdirSync(path.join(caseOutputDir(), 'cases')).sort();
}

export function unrunnableCases(): Unrunnable[] {
  return JSON.parse(readFileSync(path.join(caseOutputDir(), 'unrunnable.json'), 'utf8')) as Unrunnable[];
}

/** The cases of one directory, in file order. */
export function loadDirectory(directory: string): ConformanceCase[] {
  const dir = path.join(caseOutputDir(), 'cases', directory);
  const cases: ConformanceCase[] = [];
  const seen = new Map<string, number>();
  for (const file of readdirSync(dir).sort()) {
    const text = readFileSync(path.join(dir, file), 'utf8');
    // The Wasm is base64 (read with JSON.parse); everything else keeps every digit of its numbers.
    const modules = (JSON.parse(text) as { cases: { wasm: string }[] }).cases.map((c) => c.wasm);
    const exact = parseJsonExact(text.replace(/"wasm":"[^"]*"/g, '"wasm":""')) as { cases: Omit<ConformanceCase, 'name' | 'directory' | 'wasm'>[] };
    const yamlFile = file.replace(/(\.case-\d+)?\.json$/, '.yaml');
    exact.cases.forEach((c, i) => {
      let name = `${directory}/${yamlFile}/${c.note}`;
      // Notes should be unique; if one is not, later ones are told apart like OPA's test.js does.
      const count = seen.get(name) ?? 0;
      seen.set(name, count + 1);
      if (count > 0) name = `${name} (${count})`;
      cases.push({ ...c, name, directory, wasm: Buffer.from(modules[i] ?? '', 'base64') });
    });
  }
  return cases;
}
