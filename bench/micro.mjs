#!/usr/bin/env node
// In-process cost of one Check through gatehouse's pipeline (decode → input → cache/evaluate →
// decision → encoded CheckResponse), without gRPC or the network, on the benchmark corpus and
// policy. Single-threaded, so a busy second core disturbs it far less than a load test.
//   node bench/micro.mjs [--checks N] [--hygiene strict|compatible]
// Prints µs per Check for: protobuf decode alone (a floor), cache off (every Check evaluated),
// cache on cold (the realistic mix, hit ratio shown), cache hits only, and the ratios.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { authorize } from '../dist/authz/authorize.js';
import { hygieneSettings } from '../dist/authz/hygiene/index.js';
import { DecisionCache } from '../dist/cache/decision-cache.js';
import { encodeResponse } from '../dist/grpc/check-service.js';
import { authzProtos } from '../dist/grpc/protos.js';
import { readBundle } from '../dist/policy/bundle.js';
import { WasmPolicy } from '../dist/policy/evaluator.js';
import { POLICY_DIR, makeCorpus } from './corpus.mjs';

const { values } = parseArgs({ options: { checks: { type: 'string', default: '40000' }, hygiene: { type: 'string', default: 'strict' } } });
const checks = Number(values.checks);
const root = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'gatehouse-micro-'));
const bundlePath = path.join(work, 'bundle.tar.gz');
execFileSync(process.execPath, [path.join(root, 'dist/main.js'), 'build', '--policies', POLICY_DIR, '--out', bundlePath], { stdio: 'ignore' });
const bundle = await readBundle(bundlePath, { maxBytes: 1 << 26 });
const settings = { mode: 'auto', ttlMs: 3_600_000, keyFields: [], nondeterministicTtlMs: 0 };
const policy = await WasmPolicy.load(bundle, { entrypoint: 'envoy/authz/allow', maxMemoryBytes: 1 << 28, cache: settings });
if (!policy.cachePlan.enabled) throw new Error(`the benchmark policy should be cacheable: ${policy.cachePlan.why}`);

const protos = authzProtos();
const data = JSON.parse(readFileSync(path.join(POLICY_DIR, 'data.json'), 'utf8'));
const corpus = makeCorpus(data, 2000).map((r) => protos.encodeCheckRequest(r));
const deps = (cache) => ({
  decode: protos.decodeCheckRequest,
  currentPolicy: () => policy,
  inputOptions: { maxBodyBytes: 1 << 20, hygiene: hygieneSettings(values.hygiene), xfccTrustedSources: new Set() },
  trustDomains: new Set(),
  newDecisionId: () => '00000000-0000-4000-8000-000000000000',
  nowNs: process.hrtime.bigint,
  cache,
});

function measure(label, fn) {
  for (let i = 0; i < 2000; i++) fn(i); // warm up the JIT
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < checks; i++) fn(i);
  const wall = Number(process.hrtime.bigint() - start) / 1e3 / checks;
  const used = process.cpuUsage(cpu);
  return { label, usPerCheck: wall, cpuUsPerCheck: (used.user + used.system) / checks };
}

const rows = [];
rows.push(measure('protobuf decode only (floor)', (i) => protos.decodeCheckRequest(corpus[i % corpus.length])));
const off = deps(undefined);
rows.push(measure('cache off (every Check evaluated)', (i) => encodeResponse(authorize(corpus[i % corpus.length], off), protos)));
const cold = new DecisionCache({ maxEntries: 100_000, maxBytes: 1 << 26, nowMs: Date.now });
let hits = 0;
let total = 0;
const onDeps = deps(cold);
const mix = measure('cache on, realistic mix (cold start)', (i) => {
  const outcome = authorize(corpus[i % corpus.length], onDeps);
  total++;
  if (outcome.cache === 'hit') hits++;
  encodeResponse(outcome, protos);
});
rows.push(mix);
const warm = new DecisionCache({ maxEntries: 100_000, maxBytes: 1 << 26, nowMs: Date.now });
const warmDeps = deps(warm);
for (const bytes of corpus) authorize(bytes, warmDeps);
rows.push(measure('cache on, hits only', (i) => encodeResponse(authorize(corpus[i % corpus.length], warmDeps), protos)));

const base = rows[1].usPerCheck;
console.log(`gatehouse pipeline, in process: ${checks} Checks per row, ${corpus.length} distinct requests (bench/corpus.mjs), request_hygiene ${values.hygiene}, Node ${process.version}`);
console.log(`realistic-mix hit ratio: ${((hits / total) * 100).toFixed(1)}% (distinct keys: ${cold.stats().entries})`);
console.log('| path | µs per Check (wall) | CPU µs per Check | vs cache off |');
console.log('|---|---|---|---|');
for (const row of rows) console.log(`| ${row.label} | ${row.usPerCheck.toFixed(1)} | ${row.cpuUsPerCheck.toFixed(1)} | ${(row.usPerCheck / base).toFixed(2)}× |`);
