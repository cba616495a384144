/**
 * Reading an OPA bundle built with `opa build -t wasm`: a `.tar.gz` file or a directory holding
 * `/policy.wasm`, `/data.json` and `/.manifest`
 * (https://www.openpolicyagent.org/docs/management-bundles/#bundle-file-format).
 */
import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { GatehouseError, describeThrown } from '../errors.js';
import type { CacheAnalysis } from '../cache/analysis.js';
import { cleanPath, readTarGz } from './tar.js';

/** Where `gatehouse build` records which input fields the policy reads. */
export const CACHE_ANALYSIS_FILE = '.gatehouse/cache-analysis.json';

export interface Bundle {
  /** Where it came from, for logs. */
  source: string;
  /** `.manifest` revision, or "sha256:<digest prefix>" when the manifest has none. */
  revision: string;
  /** SHA-256 of the bundle's bytes: an unchanged file is not reloaded. */
  digest: string;
  wasm: Buffer;
  /** `data.json` as it is in the bundle (a JSON object; `{}` when absent), kept as bytes so numbers stay exact. */
  dataJson: Buffer;
  manifest: Manifest;
  /** Present when the bundle was built by `gatehouse build`. */
  cacheAnalysis: CacheAnalysis | undefined;
}

export interface Manifest {
  revision?: string;
  roots?: string[];
  wasm?: { entrypoint: string; module: string }[];
  metadata?: Record<string, unknown>;
}

export interface BundleLimits {
  maxBytes: number;
  /** Called with every file of the bundle before anything is trusted (signature verification). */
  verify?: (files: ReadonlyMap<string, Buffer>) => void;
}

export async function readBundle(source: string, limits: BundleLimits): Promise<Bundle> {
  let files: Map<string, Buffer>;
  let digest: string;
  try {
    const info = await stat(source);
    if (info.isDirectory()) {
      files = await readDirectory(source, limits);
    } else {
      if (info.size > limits.maxBytes) throw new GatehouseError('bundle_invalid', `bundle is ${info.size} bytes, over ${limits.maxBytes}`);
      return bundleFromArchive(source, await readFile(source), limits);
    }
  } catch (error) {
    if (error instanceof GatehouseError) throw error;
    throw new GatehouseError('bundle_read_error', `cannot read bundle ${source}: ${describeThrown(error)}`, { cause: error });
  }
  // Length-framed, so that no two different file sets hash alike.
  digest = sha256(
    Buffer.concat(
      [...files.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).flatMap(([name, bytes]) => [Buffer.from(`${Buffer.byteLength(name)}:${name}${bytes.length}:`), bytes]),
    ),
  );
  return fromFiles(source, files, digest, limits);
}

/** A bundle from the bytes of its `.tar.gz` (a file, or a download). */
export function bundleFromArchive(source: string, bytes: Buffer, limits: BundleLimits): Bundle {
  return fromFiles(source, readTarGz(bytes, limits), sha256(bytes), limits);
}

export function fromFiles(source: string, files: Map<string, Buffer>, digest: string, limits: BundleLimits): Bundle {
  limits.verify?.(files);
  const manifest = parseJson<Manifest>(files.get('.manifest'), '.manifest') ?? {};
  if (typeof manifest !== 'object' || Array.isArray(manifest)) throw invalid('.manifest is not a JSON object');
  const modulePath = manifest.wasm?.[0]?.module ? cleanPath(manifest.wasm[0].module) : 'policy.wasm';
  const wasm = files.get(modulePath);
  if (!wasm) {
    const rego = [...files.keys()].some((name) => name.endsWith('.rego'));
    throw invalid(rego
      ? `${source} holds Rego source, not a compiled bundle: compile it with "gatehouse build --policies ${source} --out bundle.tar.gz" and pass the bundle`
      : `bundle has no ${modulePath}; build it with "gatehouse build" (or "opa build -t wasm -e <entrypoint>")`);
  }
  const dataJson = files.get('data.json') ?? Buffer.from('{}');
  const data = parseJson<Record<string, unknown>>(dataJson, 'data.json') ?? {};
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw invalid('data.json is not a JSON object');
  const revision = typeof manifest.revision === 'string' && manifest.revision !== '' ? manifest.revision : `sha256:${digest.slice(0, 12)}`;
  const cacheAnalysis = parseJson<CacheAnalysis>(files.get(CACHE_ANALYSIS_FILE), CACHE_ANALYSIS_FILE);
  return { source, revision, digest, wasm, dataJson, manifest, cacheAnalysis };
}

async function readDirectory(root: string, limits: BundleLimits): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  let total = 0;
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    const bytes = await readFile(full);
    total += bytes.length;
    if (total > limits.maxBytes) throw invalid(`bundle directory holds more than ${limits.maxBytes} bytes`);
    files.set(path.relative(root, full).split(path.sep).join('/'), bytes);
  }
  return files;
}

function parseJson<T>(bytes: Buffer | undefined, name: string): T | undefined {
  if (!bytes) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (error) {
    throw invalid(`${name} is not valid JSON: ${describeThrown(error)}`);
  }
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function invalid(message: string): GatehouseError {
  return new GatehouseError('bundle_invalid', message);
}
