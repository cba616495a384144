/** Compile Rego into a real OPA Wasm bundle for a test, with the project's build script. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildBundle as buildPolicyBundle } from '../../src/policy/build.js';
import { CHECKOUT } from './requests.js';
import { ROOT } from './tools.js';

export function tempDir(prefix = 'gatehouse-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/**
 * Build `files` (name → content, e.g. {"policy.rego": "...", "data.json": "..."}) into
 * `out` (a .tar.gz path). `restrictBuiltins: false` compiles without gatehouse's capabilities
 * file, to produce bundles that use builtins the Wasm runtime lacks.
 */
export function buildBundle(
  opa: string,
  files: Record<string, string>,
  out: string,
  options: { entrypoint?: string; restrictBuiltins?: boolean; revision?: string } = {},
): string {
  const src = tempDir('gatehouse-policy-');
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(src, name)), { recursive: true });
    writeFileSync(path.join(src, name), content);
  }
  const entrypoint = options.entrypoint ?? 'envoy/authz/allow';
  if (options.restrictBuiltins === false) {
    execFileSync(opa, ['build', '-t', 'wasm', '-e', entrypoint, '-o', out, src], { stdio: 'pipe' });
  } else {
    buildPolicyBundle({ opa, policies: src, out, entrypoint, revision: options.revision, log: () => undefined });
  }
  return out;
}

/** The example policy of policies/, built into `dir`. */
export function buildExampleBundle(opa: string, dir: string): string {
  const out = path.join(dir, 'example.tar.gz');
  buildPolicyBundle({ opa, policies: path.join(ROOT, 'policies'), out, entrypoint: 'envoy/authz/allow', log: () => undefined });
  return out;
}

/**
 * Rego rule-body lines (tab-indented, one per line) that run for about 20 s of CPU (a billion
 * comparisons over one 1,000-number range) without allocating: a runaway that only a deadline
 * stops. An allocating runaway (a comprehension collecting millions of numbers) races the
 * deadline against the Wasm memory limit and can end as opa_malloc failing instead.
 */
export const RUNAWAY_BODY = '\tr := numbers.range(1, 1000)\n\tsome i in r\n\tsome j in r\n\tsome k in r\n\ti > j\n\tj > k\n\tk > i';

/** Allows only the CHECKOUT workload (checkRequestJson({ source: CHECKOUT })), denies the rest. */
export const CHECKOUT_ONLY_POLICY = `package envoy.authz
import rego.v1
default allow := false
allow if input.identity.source.principal == "${CHECKOUT}"
`;
