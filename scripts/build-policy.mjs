#!/usr/bin/env node
// Compiles a folder of Rego (and data.json files) into an OPA Wasm bundle that gatehouse serves:
//   node scripts/build-policy.mjs [--policies DIR] [--out FILE] [--entrypoint PATH] [--opa BIN]
// The compiler is given a capabilities file that lists only the builtins gatehouse's Wasm
// runtime provides, so a policy calling anything else (http.send, ...) fails here, at build time,
// with OPA's own error message instead of at evaluation time.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    policies: { type: 'string', default: 'policies' },
    out: { type: 'string', default: 'build/bundle.tar.gz' },
    entrypoint: { type: 'string', default: 'envoy/authz/allow' },
    opa: { type: 'string', default: process.env.OPA ?? path.resolve('.tools/bin/opa') },
    revision: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('Usage: node scripts/build-policy.mjs [--policies DIR] [--out FILE] [--entrypoint PATH] [--opa BIN] [--revision REV]');
  process.exit(0);
}

const require = createRequire(import.meta.url);
const wasmCaps = JSON.parse(readFileSync(path.join(path.dirname(require.resolve('@open-policy-agent/opa-wasm')), '..', 'capabilities.json'), 'utf8'));
const supported = new Set(wasmCaps.builtins.map((b) => b.name));
const current = JSON.parse(execFileSync(values.opa, ['capabilities', '--current'], { encoding: 'utf8' }));
const capabilities = { ...current, builtins: current.builtins.filter((b) => supported.has(b.name)) };
const outDir = path.dirname(path.resolve(values.out));
mkdirSync(outDir, { recursive: true });
const capsFile = path.join(outDir, 'wasm-capabilities.json');
writeFileSync(capsFile, JSON.stringify(capabilities));

// Revision: the content hash of the sources, so the same policy always gets the same revision
// and any change gets a new one (visible in decision logs, metrics and /readyz).
const revision = values.revision ?? `sha256:${hashTree(values.policies).slice(0, 16)}`;
try {
  execFileSync(
  values.opa,
  ['build', '-t', 'wasm', '-e', values.entrypoint, '--ignore', '*_test.rego', '--capabilities', capsFile, '--revision', revision, '-o', values.out, values.policies],
  // OPA prints its errors on stdout; send them to stderr with the rest of the diagnostics.
    { stdio: ['ignore', process.stderr, 'inherit'] },
  );
} catch {
  console.error(`opa build failed for ${values.policies} (OPA's message is above). A builtin reported as undefined is one that gatehouse's Wasm runtime does not provide.`);
  process.exit(1);
}
console.log(`built ${values.out} (entrypoint ${values.entrypoint}, revision ${revision})`);

function hashTree(root) {
  const hash = createHash('sha256');
  const files = readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.endsWith('_test.rego'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
  for (const file of files) hash.update(path.relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
  return hash.digest('hex');
}
