/** Where the conformance harness keeps its tools and generated cases (shared by its scripts and test). */
import path from 'node:path';

/** The OPA whose conformance cases run: the pinned compiler's version. */
export const OPA_VERSION = process.env.OPA_VERSION ?? '1.19.1';
/** Bumped when generate.mjs changes what it writes, so old output is regenerated. */
export const CONFORMANCE_FORMAT = 1;
export const ROOT = path.resolve(import.meta.dirname, '../..');

export function generatorPath() {
  return path.join(ROOT, '.tools/bin/wasm-rego-testgen');
}

export function caseOutputDir() {
  return path.join(ROOT, '.tools/conformance', `opa-v${OPA_VERSION}`);
}
