/**
 * `gatehouse build`: compile a folder of Rego and data files into the bundle gatehouse serves.
 * 1. `opa build -t wasm --wasm-include-print` with OPA's own capabilities, so everything `opa test`
 *    accepts compiles (syntax and type errors are OPA's, shown as OPA prints them);
 * 2. the compiled module's host imports are checked against the builtin catalogue
 *    (policy/builtins/catalogue.ts) by loading it exactly as `serve` does: a builtin gatehouse
 *    cannot evaluate (http.send, ...) fails the build, named with the reason and what to do;
 * 3. `opa parse` of every module, and the cache analysis of what the policy reads;
 * 4. the analysis is added to the bundle as `/.gatehouse/cache-analysis.json`.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { analyseModules, type CacheAnalysis } from '../cache/analysis.js';
import { GatehouseError } from '../errors.js';
import { CACHE_ANALYSIS_FILE } from './bundle.js';
import { systemClockNs } from './evaluator.js';
import { OpaWasmInstance } from './wasm-runtime.js';
import { SIGNATURES_FILE, signBundleFiles, type SigningOptions } from './signature.js';
import { appendToTar, readTar, tarEntry } from './tar.js';


export interface BuildOptions {
  opa: string;
  policies: string;
  out: string;
  entrypoint: string;
  revision?: string;
  /** Rego written before OPA 1.0 (`opa build --v0-compatible`). */
  v0Compatible?: boolean;
  /** More file or directory names for OPA to ignore (`opa build --ignore`); `*_test.rego` always is. */
  ignore?: string[];
  /** OPA's optimisation level (`opa build -O`), 0 by default. */
  optimize?: number;
  /** Sign the finished bundle (all files, the cache analysis included) like `opa build --signing-key`. */
  signing?: SigningOptions;
  /** Progress and OPA's diagnostics. */
  log: (line: string) => void;
}

export interface BuildResult {
  out: string;
  revision: string;
  analysis: CacheAnalysis;
}

/** The OPA CLI: the project's pinned one when present, else `opa` from PATH. */
export function defaultOpa(): string {
  const local = path.resolve('.tools/bin/opa');
  return existsSync(local) ? local : 'opa';
}

export function buildBundle(options: BuildOptions): BuildResult {
  const sources = regoFiles(options.policies);
  if (sources.length === 0) throw new GatehouseError('usage', `no .rego files in ${options.policies}`);
  const outDir = path.dirname(path.resolve(options.out));
  mkdirSync(outDir, { recursive: true });

  const compat = options.v0Compatible ? ['--v0-compatible'] : [];
  options.log(`compiling ${sources.length} module(s) in ${options.policies} (opa build -t wasm -e ${options.entrypoint}${options.v0Compatible ? ' --v0-compatible' : ''})`);
  // The same sources always get the same revision; any change gets a new one.
  const revision = options.revision ?? `sha256:${hashTree(options.policies).slice(0, 16)}`;
  const ignore = ['*_test.rego', ...(options.ignore ?? [])].flatMap((pattern) => ['--ignore', pattern]);
  // OPA writes beside the output; only a bundle that passed every check replaces options.out.
  const compiled = path.join(outDir, `.${path.basename(options.out)}.${process.pid}.opa.tar.gz`);
  let archive: Buffer;
  try {
    runOpa(options, [
      'build', '-t', 'wasm', '--wasm-include-print', '-e', options.entrypoint, ...compat, ...ignore,
      ...(options.optimize ? [`-O=${options.optimize}`] : []), '--revision', revision, '-o', compiled, options.policies,
    ]);
    archive = gunzipSync(readFileSync(compiled));
  } finally {
    rmSync(compiled, { force: true });
  }
  checkBuiltins(readTar(archive), options);

  // Every module OPA compiled must be analysed: the sources are listed the way OPA's loader walks
  // them (following symbolic links to files and directories). A wasm bundle holds only stubs of
  // the modules, so they cannot be read back from it.
  options.log('analysing which input fields the policy reads (opa parse)');
  const modules = sources.map((file) => JSON.parse(runOpa(options, ['parse', '--format', 'json', ...compat, file])) as unknown);
  const analysis = analyseModules(modules);
  const entry = tarEntry(`/${CACHE_ANALYSIS_FILE}`, Buffer.from(`${JSON.stringify(analysis, null, 2)}\n`));
  let finished = appendToTar(archive, entry);
  if (options.signing) {
    // Signed last, so the signature covers gatehouse's own files too (an unsigned cache analysis
    // could make the cache key on too few fields).
    const signatures = signBundleFiles(readTar(finished), options.signing);
    finished = appendToTar(finished, tarEntry(`/${SIGNATURES_FILE}`, signatures));
    options.log(`signed with key "${options.signing.keyId}" (${options.signing.algorithm})`);
  }
  writeFileSync(options.out, gzipSync(finished));
  options.log(`built ${options.out} (revision ${revision})`);
  return { out: options.out, revision, analysis };
}

function runOpa(options: BuildOptions, args: string[]): string {
  try {
    return execFileSync(options.opa, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string; code?: string };
    if (failure.code === 'ENOENT') {
      throw new GatehouseError('usage', `OPA CLI not found at "${options.opa}": run ./dev setup, or pass --opa PATH`);
    }
    // OPA prints its errors on stdout.
    const detail = `${failure.stdout ?? ''}${failure.stderr ?? ''}`.trim();
    const hint = !options.v0Compatible && /rego_parse_error/.test(detail)
      ? '\n(a policy written for OPA before 1.0, without `if`/`contains`, builds with --v0-compatible)'
      : '';
    throw new GatehouseError('usage', `opa ${args[0]} failed for ${options.policies}:\n${detail}${hint}`);
  }
}

/**
 * Load the compiled module the way `serve` will: a builtin it imports that gatehouse cannot
 * evaluate fails the build here, named with the reason, instead of the bundle failing at load.
 */
function checkBuiltins(files: ReadonlyMap<string, Buffer>, options: BuildOptions): void {
  const wasm = files.get('policy.wasm');
  if (!wasm) throw new GatehouseError('usage', `opa build wrote no policy.wasm for ${options.policies}`);
  try {
    const instance = OpaWasmInstance.load(wasm, Buffer.from('{}'), { maxMemoryBytes: 1 << 26, wallClockNs: systemClockNs, print: () => undefined });
    if (instance.importedBuiltins.length > 0) options.log(`host builtins: ${instance.importedBuiltins.join(', ')}`);
  } catch (error) {
    throw new GatehouseError('usage', `${options.policies}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function regoFiles(root: string): string[] {
  return listFiles(root).filter((f) => f.endsWith('.rego') && !f.endsWith('_test.rego'));
}

/** SHA-256 over every non-test file's relative path and contents, length-framed. */
function hashTree(root: string): string {
  const hash = createHash('sha256');
  for (const file of listFiles(root).filter((f) => !f.endsWith('_test.rego'))) {
    const name = Buffer.from(path.relative(root, file));
    const bytes = readFileSync(file);
    hash.update(`${name.length}:`).update(name).update(`${bytes.length}:`).update(bytes);
  }
  return hash.digest('hex');
}

/** Every file below `root`, following symbolic links as `opa build` does (each directory once). */
function listFiles(root: string): string[] {
  const files: string[] = [];
  const seen = new Set<string>();
  const walk = (dir: string) => {
    const real = realpathSync(dir);
    if (seen.has(real)) return;
    seen.add(real);
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      const info = statSync(full, { throwIfNoEntry: false });
      if (info?.isDirectory()) walk(full);
      else if (info?.isFile()) files.push(full);
    }
  };
  walk(root);
  return files.sort();
}
