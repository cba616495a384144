/**
 * `gatehouse build`: compile a folder of Rego and data files into the bundle gatehouse serves.
 * 1. `opa build -t wasm` with a capabilities file that lists only the builtins the Wasm runtime
 *    provides, so an unsupported builtin (http.send, ...) fails here with OPA's own message;
 * 2. `opa parse` of every module, and the cache analysis of what the policy reads;
 * 3. the analysis is added to the bundle as `/.gatehouse/cache-analysis.json`.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { analyseModules, type CacheAnalysis } from '../cache/analysis.js';
import { GatehouseError } from '../errors.js';
import { CACHE_ANALYSIS_FILE } from './bundle.js';
import { SUPPORTED_BUILTINS } from './evaluator.js';
import { SIGNATURES_FILE, signBundleFiles, type SigningOptions } from './signature.js';
import { appendToTar, readTar, tarEntry } from './tar.js';


export interface BuildOptions {
  opa: string;
  policies: string;
  out: string;
  entrypoint: string;
  revision?: string;
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

  options.log(`compiling ${sources.length} module(s) in ${options.policies} (opa build -t wasm -e ${options.entrypoint})`);
  const capabilitiesFile = path.join(outDir, 'wasm-capabilities.json');
  writeFileSync(capabilitiesFile, JSON.stringify(wasmCapabilities(options.opa)));
  // The same sources always get the same revision; any change gets a new one.
  const revision = options.revision ?? `sha256:${hashTree(options.policies).slice(0, 16)}`;
  runOpa(options, ['build', '-t', 'wasm', '-e', options.entrypoint, '--ignore', '*_test.rego', '--capabilities', capabilitiesFile, '--revision', revision, '-o', options.out, options.policies]);

  // Every module OPA compiled must be analysed: the sources are listed the way OPA's loader walks
  // them (following symbolic links to files and directories). A wasm bundle holds only stubs of
  // the modules, so they cannot be read back from it.
  options.log('analysing which input fields the policy reads (opa parse)');
  const modules = sources.map((file) => JSON.parse(runOpa(options, ['parse', '--format', 'json', file])) as unknown);
  const analysis = analyseModules(modules);
  const archive = gunzipSync(readFileSync(options.out));
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
    throw new GatehouseError(
      'usage',
      `opa ${args[0]} failed for ${options.policies}:\n${detail}\n(a builtin reported as undefined is one gatehouse's Wasm runtime does not provide)`,
    );
  }
}

/** OPA's current capabilities, with builtins cut down to those opa-wasm implements. */
function wasmCapabilities(opa: string): unknown {
  const current = JSON.parse(runOpa({ opa, policies: '', out: '', entrypoint: '', log: () => undefined }, ['capabilities', '--current'])) as {
    builtins: { name: string }[];
  };
  return { ...current, builtins: current.builtins.filter((b) => SUPPORTED_BUILTINS.has(b.name)) };
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
