#!/usr/bin/env node
/**
 * Compiles OPA's conformance cases (the YAML files under `v1/test/cases/testdata/v1` in the OPA Go
 * module) to Wasm with OPA's own generator, `wasm-rego-testgen` (the program behind OPA's
 * `make wasm-rego-test`), into `.tools/conformance/opa-v<version>/` (git-ignored). Quick when the
 * output for this OPA version and this script's format is already there.
 *
 * The generator stops at the first case of its input that does not compile or does not carry
 * exactly one of want_defined/want_result/want_error, and says nothing about the rest. So it is fed
 * a directory at a time; a directory it refuses, a file at a time; a file it refuses, a case at a
 * time (each case cut out of the YAML source verbatim, so numbers keep every digit). A case it
 * refuses on its own is recorded as not runnable, with the generator's message.
 *
 * Output: `cases/<dir>/<file>.json` (the generator's own JSON, one file per YAML file, or one per
 * case as `<file>.case-<n>.json`), `unrunnable.json` and, written last, `stamp.json`.
 *
 * Usage: node test/conformance/generate.mjs [--force]   (needs .tools/bin/wasm-rego-testgen and Go;
 * scripts/ensure-conformance.sh installs the generator and runs this)
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { CONFORMANCE_FORMAT, OPA_VERSION, ROOT, caseOutputDir, generatorPath } from './paths.mjs';

const force = process.argv.includes('--force');
const outDir = caseOutputDir();
const stampFile = path.join(outDir, 'stamp.json');

if (!force && isCurrent()) process.exit(0);

const generator = generatorPath();
if (!existsSync(generator)) {
  console.error(`error: ${path.relative(ROOT, generator)} is missing; run: bash scripts/ensure-conformance.sh`);
  process.exit(1);
}
const casesRoot = path.join(opaModuleDir(), 'v1/test/cases/testdata/v1');
const directories = readdirSync(casesRoot, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();

const started = Date.now();
const building = `${outDir}.partial`;
rmSync(building, { recursive: true, force: true });
mkdirSync(path.join(building, 'cases'), { recursive: true });
const scratch = mkdtempSync(path.join(tmpdir(), 'gatehouse-conformance-'));
const unrunnable = [];
let done = 0;
let compiled = 0;

console.error(`compiling OPA v${OPA_VERSION}'s conformance cases (${directories.length} directories) to Wasm with wasm-rego-testgen; takes a minute or two...`);
try {
  await pool(directories, Math.max(1, availableParallelism()), async (dir) => {
    const count = await generateDirectory(dir); // (not `compiled += await`: that reads `compiled` before the wait)
    compiled += count;
    done++;
    if (done % 10 === 0 || done === directories.length) {
      console.error(`  ${done}/${directories.length} directories, ${compiled} cases compiled, ${unrunnable.length} not compilable (${Math.round((Date.now() - started) / 1000)} s)`);
    }
  });
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
unrunnable.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
writeFileSync(path.join(building, 'unrunnable.json'), `${JSON.stringify(unrunnable, null, 2)}\n`);
writeFileSync(
  path.join(building, 'stamp.json'),
  `${JSON.stringify({ opa: OPA_VERSION, format: CONFORMANCE_FORMAT, compiled, unrunnable: unrunnable.length, seconds: Math.round((Date.now() - started) / 1000) }, null, 2)}\n`,
);
rmSync(outDir, { recursive: true, force: true });
renameSync(building, outDir);
// Cases of other OPA versions are not needed any more.
for (const old of readdirSync(path.dirname(outDir)).filter((d) => d.startsWith('opa-v') && d !== path.basename(outDir))) {
  rmSync(path.join(path.dirname(outDir), old), { recursive: true, force: true });
}
console.error(`compiled ${compiled} conformance cases into ${path.relative(ROOT, outDir)} (${unrunnable.length} cases the generator refuses) in ${Math.round((Date.now() - started) / 1000)} s`);

function isCurrent() {
  try {
    const stamp = JSON.parse(readFileSync(stampFile, 'utf8'));
    return stamp.opa === OPA_VERSION && stamp.format === CONFORMANCE_FORMAT;
  } catch {
    return false;
  }
}

/** Where Go keeps the OPA module's source (downloaded by `go install` of the generator). */
function opaModuleDir() {
  const info = JSON.parse(execFileSync('go', ['mod', 'download', '-json', `github.com/open-policy-agent/opa@v${OPA_VERSION}`], { encoding: 'utf8', cwd: tmpdir() }));
  if (!info.Dir) throw new Error(`go mod download did not return the directory of OPA v${OPA_VERSION}: ${info.Error ?? JSON.stringify(info)}`);
  return info.Dir;
}

/** All of one directory's cases; returns how many compiled. */
async function generateDirectory(dir) {
  const input = path.join(casesRoot, dir);
  const target = path.join(building, 'cases', dir);
  mkdirSync(target, { recursive: true });
  const whole = await runGenerator(input, '*.yaml');
  if (whole.ok) return writeOutputs(whole.files, target, (name) => name);
  let count = 0;
  for (const file of readdirSync(input).filter((f) => f.endsWith('.yaml')).sort()) {
    const one = await runGenerator(input, file);
    if (one.ok) {
      count += writeOutputs(one.files, target, (name) => name);
      continue;
    }
    count += await generateCaseByCase(dir, file, target);
  }
  return count;
}

/** A file the generator refuses: each case on its own, cut out of the YAML source verbatim. */
async function generateCaseByCase(dir, file, target) {
  const source = readFileSync(path.join(casesRoot, dir, file), 'utf8');
  const items = parseDocument(source).get('cases', true)?.items ?? [];
  const caseDir = mkdtempSync(path.join(scratch, 'case-'));
  let count = 0;
  for (const [index, item] of items.entries()) {
    const lineStart = source.lastIndexOf('\n', item.range[0]) + 1;
    const yamlFile = path.join(caseDir, `${index}.yaml`);
    const text = source.slice(lineStart, item.range[2]).replace(/\n*$/, '\n');
    writeFileSync(yamlFile, `cases:\n${text}`);
    let one = await runGenerator(caseDir, `${index}.yaml`);
    if (!one.ok && item.has?.('want_error_code') && !item.has('want_error') && !item.has('want_result') && !item.has('want_defined')) {
      // OPA's Wasm e2e test runs a case that only names an error code (it expects that error, or
      // an empty result when the error needs strict builtin errors); the generator wants
      // want_error, so it gets an empty one. The harness compares by want_error_code.
      const indent = ' '.repeat(item.range[0] - lineStart);
      writeFileSync(yamlFile, `cases:\n${text}${indent}want_error: ""\n`);
      one = await runGenerator(caseDir, `${index}.yaml`);
    }
    if (one.ok) {
      count += writeOutputs(one.files, target, () => file.replace(/\.yaml$/, `.case-${String(index).padStart(3, '0')}.json`));
    } else {
      const note = String(item.get?.('note') ?? `case ${index}`);
      unrunnable.push({ name: `${dir}/${file}/${note}`, reason: one.error });
    }
    rmSync(yamlFile);
  }
  rmSync(caseDir, { recursive: true, force: true });
  return count;
}

/** Writes the generator's JSON files for one run; returns the number of cases in them. */
function writeOutputs(files, target, rename) {
  let count = 0;
  for (const [name, bytes] of files) {
    if (!name.endsWith('.json')) continue;
    const text = bytes.toString('utf8');
    count += JSON.parse(text).cases.length;
    writeFileSync(path.join(target, rename(name)), text);
  }
  return count;
}

/** One generator run over the files of `inputDir` matching `pattern`. */
function runGenerator(inputDir, pattern) {
  const output = path.join(mkdtempSync(path.join(scratch, 'out-')), 'cases.tar.gz');
  return new Promise((resolve, reject) => {
    const child = spawn(generator, ['--input-dir', inputDir, '--file-pattern', pattern, '--runner', '/dev/null', '--output', output], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let messages = '';
    child.stdout.on('data', (chunk) => (messages += chunk));
    child.stderr.on('data', (chunk) => (messages += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        if (code !== 0) {
          resolve({ ok: false, error: firstLine(messages) });
          return;
        }
        execFileSync('tar', ['-xzf', output, '-C', path.dirname(output)]);
        const files = readdirSync(path.dirname(output)).filter((f) => f.endsWith('.json'));
        resolve({ ok: true, files: files.map((f) => [f, readFileSync(path.join(path.dirname(output), f))]) });
      } catch (error) {
        reject(error);
      } finally {
        rmSync(path.dirname(output), { recursive: true, force: true });
      }
    });
  });
}

/** The generator's message without cobra's usage text. */
function firstLine(messages) {
  const line = messages.split('\n').find((l) => l.startsWith('Error: ')) ?? messages.trim().split('\n')[0] ?? 'failed';
  return line.replace(/^Error: /, '').replace(/^\d+\.yaml: /, '');
}

async function pool(items, width, work) {
  const queue = [...items];
  const workers = Array.from({ length: Math.min(width, queue.length) }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  });
  await Promise.all(workers);
}
