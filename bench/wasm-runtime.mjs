#!/usr/bin/env node
// Policy evaluation alone, gatehouse's Wasm runtime (src/policy/wasm-runtime.ts) against opa-wasm's
// loadPolicy (the npm package gatehouse used before, kept as a devDependency for this baseline),
// on the same policy.wasm, data and input bytes, in one process. Rounds alternate between the two
// so drift on a shared machine hits both alike.
//   node bench/wasm-runtime.mjs [--evals N] [--rounds R]
// Prints µs per evaluation for each and the ratio (gatehouse / opa-wasm; < 1 is faster).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import opaWasm from '@open-policy-agent/opa-wasm';
import { buildInput } from '../dist/authz/input.js';
import { authzProtos } from '../dist/grpc/protos.js';
import { readBundle } from '../dist/policy/bundle.js';
import { WasmPolicy } from '../dist/policy/evaluator.js';
import { readTar } from '../dist/policy/tar.js';
import { POLICY_DIR, makeCorpus } from './corpus.mjs';

const { values } = parseArgs({ options: { evals: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '5' } } });
const evals = Number(values.evals);
const rounds = Number(values.rounds);
const root = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'gatehouse-wasm-bench-'));
const bundlePath = path.join(work, 'bundle.tar.gz');
execFileSync(process.execPath, [path.join(root, 'dist/main.js'), 'build', '--policies', POLICY_DIR, '--out', bundlePath], { stdio: 'ignore' });

const settings = { mode: 'off', ttlMs: 1, keyFields: [], nondeterministicTtlMs: 0 };
const ours = await WasmPolicy.load(await readBundle(bundlePath, { maxBytes: 1 << 26 }), { entrypoint: 'envoy/authz/allow', maxMemoryBytes: 1 << 28, cache: settings });
const files = readTar(gunzipSync(readFileSync(bundlePath)));
const theirs = await opaWasm.loadPolicy(files.get('policy.wasm'), { initial: 5, maximum: 4096 });
theirs.setData(JSON.parse(files.get('data.json').toString('utf8')));
const entrypoint = theirs.entrypoints['envoy/authz/allow'];

const protos = authzProtos();
const data = JSON.parse(readFileSync(path.join(POLICY_DIR, 'data.json'), 'utf8'));
const encoder = new TextEncoder();
const inputs = makeCorpus(data, 2000).map((request) => {
  const decoded = protos.decodeCheckRequest(protos.encodeCheckRequest(request));
  return encoder.encode(JSON.stringify(buildInput(decoded, { maxBodyBytes: 1 << 20, xfccTrustedSources: new Set() })));
});

// Same answers first: the benchmark compares equal work.
for (const [i, input] of inputs.entries()) {
  const a = JSON.stringify(ours.evaluate(input));
  const b = JSON.stringify(theirs.evaluate(input.slice().buffer, entrypoint));
  if (a !== b) throw new Error(`input ${i}: gatehouse ${a} vs opa-wasm ${b}`);
}

function time(fn) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < evals; i++) fn(inputs[i % inputs.length]);
  return Number(process.hrtime.bigint() - start) / 1e3 / evals;
}
const runOurs = (input) => ours.evaluate(input);
const runTheirs = (input) => theirs.evaluate(input.buffer, entrypoint);
time(runOurs);
time(runTheirs); // warm-up
const a = [];
const b = [];
for (let r = 0; r < rounds; r++) {
  a.push(time(runOurs));
  b.push(time(runTheirs));
}
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
console.log(`policy evaluation only: ${evals} evaluations × ${rounds} rounds, ${inputs.length} distinct inputs (bench/corpus.mjs), identical results checked, Node ${process.version}`);
console.log('| runtime | µs per evaluation (median of rounds) | rounds |');
console.log('|---|---|---|');
console.log(`| opa-wasm loadPolicy (baseline) | ${median(b).toFixed(2)} | ${b.map((x) => x.toFixed(2)).join(' ')} |`);
console.log(`| gatehouse wasm-runtime | ${median(a).toFixed(2)} | ${a.map((x) => x.toFixed(2)).join(' ')} |`);
console.log(`ratio gatehouse / opa-wasm: ${(median(a) / median(b)).toFixed(3)}`);
