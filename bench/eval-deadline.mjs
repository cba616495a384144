#!/usr/bin/env node
// The evaluation deadline (eval_timeout_ms): what each way of bounding an evaluation costs, and
// what the chosen one (policy/eval-threads.ts) does against a runaway policy. Uses dist/ (npm run
// build first) and the benchmark policy (bench/policy) compiled by `gatehouse build`.
//   node bench/eval-deadline.mjs [--evals N] [--hits N] [--inline-runaway]
// For a one-core comparison run it as: taskset -c 0 node bench/eval-deadline.mjs
//
// 1. Per-evaluation cost of each candidate, against the inline evaluation (today's eval_timeout_ms: 0
//    path) in the same run: wall µs per evaluation and process CPU µs per evaluation (all threads),
//    and their ratios to inline. Candidates: a vm.Script timeout around the call; the evaluation
//    thread (worker_threads + MessagePort) one at a time and with 32 in flight (batched); a
//    SharedArrayBuffer + Atomics hand-off to a thread (one slot, main side Atomics.waitAsync).
// 2. Cut-off of a runaway policy (a billion comparisons, no allocation) at eval_timeout_ms 100:
//    how long the evaluation had run when it was stopped (its thread's CPU time, and wall-clock), the time from the call to the
//    eval_timeout rejection (includes waiting for a thread that is still starting), and until the
//    next evaluation is answered (warm spare thread vs none: a thread started after the timeout).
// 3. Through gRPC (a real server): cache-hit Check latency unloaded, and while a runaway evaluation
//    runs (6 runaways, hits sent one after another until each one's deny arrives); with --inline-runaway also one hit behind an inline
//    (eval_timeout_ms 0) runaway.
// 4. Through gRPC, cache off: Checks per second and CPU per Check with eval_timeout_ms 0 and 100.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import { credentials, makeGenericClientConstructor } from '@grpc/grpc-js';
import pino from 'pino';
import { startApp } from '../dist/app.js';
import { authorize } from '../dist/authz/authorize.js';
import { hygieneSettings } from '../dist/authz/hygiene/index.js';
import { fromProtoJson } from '../dist/authz/proto-json.js';
import { shorthandRequest } from '../dist/commands/common.js';
import { loadConfig } from '../dist/config/load.js';
import { AUTHORIZATION_SERVICE } from '../dist/grpc/check-service.js';
import { authzProtos } from '../dist/grpc/protos.js';
import { readBundle } from '../dist/policy/bundle.js';
import { EvalThreads } from '../dist/policy/eval-threads.js';
import { WasmPolicy } from '../dist/policy/evaluator.js';
import { POLICY_DIR, makeCorpus } from './corpus.mjs';

const { values } = parseArgs({
  options: { evals: { type: 'string', default: '20000' }, hits: { type: 'string', default: '3000' }, 'inline-runaway': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
});
if (values.help) {
  // The header comment above, as usage.
  const header = readFileSync(new URL(import.meta.url), 'utf8').split('\n').slice(1).filter((line) => line.startsWith('//')).map((line) => line.replace(/^\/\/ ?/, ''));
  console.log(header.join('\n'));
  process.exit(0);
}
const EVALS = Number(values.evals);
const HITS = Number(values.hits);
const RUNAWAYS = 6;
const root = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'gatehouse-eval-deadline-'));
const gatehouse = (args) => execFileSync(process.execPath, [path.join(root, 'dist/main.js'), ...args], { stdio: 'ignore' });
const encoder = new TextEncoder();
const settings = { mode: 'off', ttlMs: 0, keyFields: [], nondeterministicTtlMs: 0 };
const fmt = (n, digits = 1) => n.toFixed(digits).padStart(8);

// ---- 1. per-evaluation cost ---------------------------------------------------------------------
const benchBundle = path.join(work, 'bench.tar.gz');
gatehouse(['build', '--policies', POLICY_DIR, '--out', benchBundle]);
const bundle = await readBundle(benchBundle, { maxBytes: 1 << 26 });
const options = { entrypoint: 'envoy/authz/allow', maxMemoryBytes: 1 << 28, cache: settings, print: () => undefined };
const inline = await WasmPolicy.load(bundle, options);
const protos = authzProtos();
const data = JSON.parse(readFileSync(path.join(POLICY_DIR, 'data.json'), 'utf8'));
// The input documents as authorize serialises them, from the benchmark corpus.
const inputs = makeCorpus(data, 1000).map((request) => {
  const outcome = authorize(protos.encodeCheckRequest(request), {
    decode: protos.decodeCheckRequest,
    currentPolicy: () => inline,
    inputOptions: { maxBodyBytes: 1 << 20, hygiene: hygieneSettings('strict'), xfccTrustedSources: new Set() },
    trustDomains: new Set(),
    newDecisionId: () => 'bench',
    nowNs: process.hrtime.bigint,
  });
  return outcome.inputJson;
}).filter((json) => json !== undefined);

async function measure(label, count, run) {
  await run(Math.min(2000, count)); // warm up
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await run(count);
  const wallUs = Number(process.hrtime.bigint() - start) / 1e3 / count;
  const used = process.cpuUsage(cpu);
  return { label, wallUs, cpuUs: (used.user + used.system) / count };
}

const rows = [];
rows.push(
  await measure('inline (eval_timeout_ms: 0)', EVALS, (n) => {
    for (let i = 0; i < n; i++) inline.evaluate(encoder.encode(inputs[i % inputs.length]));
  }),
);

let vmTimeouts = 0;
const context = vm.createContext({ evaluate: (json) => inline.evaluate(encoder.encode(json)), json: '' });
const script = new vm.Script('evaluate(json)');
rows.push(
  await measure('vm.Script timeout around the call', EVALS, (n) => {
    for (let i = 0; i < n; i++) {
      context.json = inputs[i % inputs.length];
      try {
        script.runInContext(context, { timeout: 100 });
      } catch (error) {
        if (error.code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw error;
        vmTimeouts++; // an ordinary evaluation stopped: the process was descheduled past 100 ms
      }
    }
  }),
);

const threads = new EvalThreads({ timeoutMs: 100 });
const offThread = await WasmPolicy.load(bundle, { ...options, evalThreads: threads });
rows.push(
  await measure('thread, one at a time (MessagePort)', EVALS, async (n) => {
    for (let i = 0; i < n; i++) await offThread.evaluateOffThread(inputs[i % inputs.length]);
  }),
);
async function inFlight(evaluate, n, concurrency) {
  let next = 0;
  const lane = async () => {
    while (next < n) await evaluate(inputs[next++ % inputs.length]);
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
}
rows.push(await measure('thread, 32 in flight (batched)', EVALS, (n) => inFlight((json) => offThread.evaluateOffThread(json), n, 32)));

const atomics = await atomicsThread(benchBundle);
rows.push(
  await measure('thread, SharedArrayBuffer + Atomics, one at a time', EVALS, async (n) => {
    for (let i = 0; i < n; i++) await atomics.evaluate(inputs[i % inputs.length]);
  }),
);
await atomics.close();

console.log(`\n1. Per-evaluation cost, benchmark policy, ${EVALS} evaluations each (${inputs.length} distinct inputs)`);
console.log('   candidate                                              wall µs  ratio   CPU µs  ratio');
if (vmTimeouts > 0) rows[1].label += ` (${vmTimeouts} spurious timeouts)`;
const base = rows[0];
for (const row of rows) {
  console.log(`   ${row.label.padEnd(52)} ${fmt(row.wallUs)} ${fmt(row.wallUs / base.wallUs, 2)} ${fmt(row.cpuUs)} ${fmt(row.cpuUs / base.cpuUs, 2)}`);
}

// ---- 2. cut-off of a runaway policy ---------------------------------------------------------------
const RUNAWAY = `package envoy.authz

import rego.v1

default allow := false

allow if input.parsed_path == ["public"]

allow if {
\tinput.parsed_path == ["runaway"]
\tr := numbers.range(1, 1000)
\tsome i in r
\tsome j in r
\tsome k in r
\ti > j
\tj > k
\tk > i
}
`;
const runawayDir = path.join(work, 'runaway');
execFileSync('mkdir', ['-p', runawayDir]);
writeFileSync(path.join(runawayDir, 'p.rego'), RUNAWAY);
const runawayBundle = path.join(work, 'runaway.tar.gz');
gatehouse(['build', '--policies', runawayDir, '--out', runawayBundle]);
const runawayPolicyBundle = await readBundle(runawayBundle, { maxBytes: 1 << 26 });

console.log('\n2. Cut-off of a runaway evaluation, eval_timeout_ms 100 (5 runs each)');
for (const spare of [true, false]) {
  const ran = [];
  // detail: "evaluation ran N ms of CPU time (M ms wall-clock)" (or "N ms wall-clock" without schedstat).
  const pool = new EvalThreads({ timeoutMs: 100, spare, onReplaced: (_why, detail) => ran.push(detail.replace(/^evaluation ran /, '').replace(' of CPU time', ' CPU').replace(' wall-clock', ' wall')) });
  const policy = await WasmPolicy.load(runawayPolicyBundle, { ...options, maxMemoryBytes: 256 << 20, evalThreads: pool });
  await policy.evaluateOffThread('{"parsed_path":["public"]}');
  const cut = [];
  const next = [];
  for (let run = 0; run < 5; run++) {
    await new Promise((resolve) => setTimeout(resolve, 1500)); // time for the new spare to start
    const start = performance.now();
    const error = await policy.evaluateOffThread('{"parsed_path":["runaway"]}').then(() => undefined, (e) => e);
    cut.push(performance.now() - start);
    if (error?.code !== 'eval_timeout') throw new Error(`expected eval_timeout, got ${error?.message ?? 'a result'}`);
    const again = performance.now();
    await policy.evaluateOffThread('{"parsed_path":["public"]}');
    next.push(performance.now() - again);
  }
  console.log(`   ${spare ? 'warm spare thread' : 'no spare (new thread)'}:`);
  console.log(`     evaluation stopped after running ${ran.join(', ')}; eval_timeout answered ${cut.map((ms) => ms.toFixed(0)).join(', ')} ms after the call`);
  console.log(`     the next evaluation answered ${next.map((ms) => ms.toFixed(0)).join(', ')} ms after that`);
  await pool.close();
}

// ---- 3. cache hits through gRPC while a runaway runs ----------------------------------------------
const Client = makeGenericClientConstructor(AUTHORIZATION_SERVICE, 'Authorization');
const request = (p) => {
  const json = shorthandRequest({ source: 'spiffe://mesh.local/ns/shop/sa/checkout', destination: 'spiffe://mesh.local/ns/shop/sa/inventory', method: 'GET', path: `/${p}` });
  return protos.encodeCheckRequest(fromProtoJson(protos.CheckRequest, json));
};
const hitBytes = request('public');
const runawayBytes = request('runaway');

async function serve(evalTimeoutMs) {
  const config = loadConfig({ flags: { bundle: runawayBundle, addr: '127.0.0.1:0', 'decision-log': 'off', 'eval-timeout-ms': String(evalTimeoutMs) }, env: {} });
  const app = await startApp(config, { logger: pino({ level: 'silent' }) });
  const client = new Client(`127.0.0.1:${app.grpcPort}`, credentials.createInsecure());
  const check = (bytes) =>
    new Promise((resolve, reject) => {
      const start = process.hrtime.bigint();
      client.Check(bytes, (error, reply) => (error ? reject(error) : resolve({ reply, us: Number(process.hrtime.bigint() - start) / 1e3 })));
    });
  return { app, client, check };
}
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
async function hitLatencies(check, count) {
  const us = [];
  for (let i = 0; i < count; i++) us.push((await check(hitBytes)).us);
  return us.sort((a, b) => a - b);
}

console.log(`\n3. Cache-hit Checks through gRPC (${HITS} serial), eval_timeout_ms 100`);
{
  const { app, client, check } = await serve(100);
  await check(hitBytes); // the miss that fills the cache
  await hitLatencies(check, 500); // warm up
  const unloaded = await hitLatencies(check, HITS);
  // Serial hits sent while a runaway evaluation runs (from 10 ms after the runaway Check until its
  // deny arrives), for several runaways, each after the spare thread has had time to start.
  const during = [];
  const denied = [];
  for (let run = 0; run < RUNAWAYS; run++) {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    let done = false;
    const runaway = check(runawayBytes).then((result) => ((done = true), result));
    await new Promise((resolve) => setTimeout(resolve, 10));
    while (!done) during.push((await check(hitBytes)).us);
    denied.push((await runaway).us / 1000);
  }
  during.sort((a, b) => a - b);
  const u99 = pct(unloaded, 99);
  const d99 = pct(during, 99);
  console.log(`   unloaded:                p50 ${fmt(pct(unloaded, 50), 0)} µs  p99 ${fmt(u99, 0)} µs`);
  console.log(`   during a runaway:        p50 ${fmt(pct(during, 50), 0)} µs  p99 ${fmt(d99, 0)} µs  (p99 ratio ${(d99 / u99).toFixed(2)}; ${during.length} hits during ${RUNAWAYS} runaways, each denied eval_timeout ${Math.min(...denied).toFixed(0)}-${Math.max(...denied).toFixed(0)} ms after it was sent)`);
  client.close();
  await app.stop();
}
{
  // The same hits with eval_timeout_ms 0: cache hits take the same synchronous path either way.
  const { app, client, check } = await serve(0);
  await check(hitBytes);
  await hitLatencies(check, 500);
  const inlineHits = await hitLatencies(check, HITS);
  console.log(`   eval_timeout_ms 0, unloaded: p50 ${fmt(pct(inlineHits, 50), 0)} µs  p99 ${fmt(pct(inlineHits, 99), 0)} µs`);
  if (values['inline-runaway']) {
    const runaway = check(runawayBytes);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const { us } = await check(hitBytes);
    const denied = await runaway;
    console.log(`   eval_timeout_ms 0, one hit sent during an inline runaway: ${(us / 1000).toFixed(0)} ms (the runaway ended after ${(denied.us / 1000).toFixed(0)} ms)`);
  }
  client.close();
  await app.stop();
}

// ---- 4. cache-miss Checks through gRPC, 32 in flight ---------------------------------------------
console.log(`\n4. Cache-off Checks through gRPC (benchmark policy and corpus, ${HITS * 2} Checks, 32 in flight; client in this process)`);
const corpusBytes = makeCorpus(data, 1000).map((r) => protos.encodeCheckRequest(r));
const missRows = [];
for (const evalTimeoutMs of [0, 100]) {
  const config = loadConfig({ flags: { bundle: benchBundle, addr: '127.0.0.1:0', 'decision-log': 'off', 'decision-cache': 'off', 'eval-timeout-ms': String(evalTimeoutMs) }, env: {} });
  const app = await startApp(config, { logger: pino({ level: 'silent' }) });
  const client = new Client(`127.0.0.1:${app.grpcPort}`, credentials.createInsecure());
  const check = (bytes) => new Promise((resolve, reject) => client.Check(bytes, (error, reply) => (error ? reject(error) : resolve(reply))));
  const run = async (n) => {
    let next = 0;
    const lane = async () => {
      while (next < n) await check(corpusBytes[next++ % corpusBytes.length]);
    };
    await Promise.all(Array.from({ length: 32 }, lane));
  };
  missRows.push(await measure(`eval_timeout_ms ${evalTimeoutMs}`, HITS * 2, run));
  client.close();
  await app.stop();
}
for (const row of missRows) {
  console.log(`   ${row.label.padEnd(22)} ${fmt(row.wallUs)} µs wall/Check (${fmt(1e6 / row.wallUs, 0)} Checks/s)  ${fmt(row.cpuUs)} CPU µs/Check  ratio to eval_timeout_ms 0: wall ${(row.wallUs / missRows[0].wallUs).toFixed(2)}, CPU ${(row.cpuUs / missRows[0].cpuUs).toFixed(2)}`);
}
await threads.close();

/**
 * The SharedArrayBuffer + Atomics candidate: one slot; the main thread writes the input, wakes the
 * thread with Atomics.notify, and awaits Atomics.waitAsync for the result (never blocking).
 */
async function atomicsThread(bundlePath) {
  const shared = new SharedArrayBuffer(8 + (1 << 20));
  const state = new Int32Array(shared, 0, 2); // [0]: 0 idle, 1 request, 2 result; [1]: length
  const bytes = new Uint8Array(shared, 8);
  const code = `
    const { workerData } = require('node:worker_threads');
    (async () => {
      const { readBundle } = await import(${JSON.stringify(new URL('../dist/policy/bundle.js', import.meta.url).href)});
      const { WasmPolicy } = await import(${JSON.stringify(new URL('../dist/policy/evaluator.js', import.meta.url).href)});
      const policy = await WasmPolicy.load(await readBundle(workerData.bundlePath, { maxBytes: 1 << 26 }), { entrypoint: 'envoy/authz/allow', maxMemoryBytes: 1 << 28, cache: { mode: 'off', ttlMs: 0, keyFields: [], nondeterministicTtlMs: 0 }, print: () => undefined });
      const state = new Int32Array(workerData.shared, 0, 2);
      const bytes = new Uint8Array(workerData.shared, 8);
      const encoder = new TextEncoder();
      Atomics.store(state, 0, 0);
      Atomics.notify(state, 0);
      for (;;) {
        let seen;
        while ((seen = Atomics.load(state, 0)) !== 1) {
          if (seen === 3) return;
          Atomics.wait(state, 0, seen);
        }
        const json = policy.evaluateJson(bytes.subarray(0, state[1]));
        const { written } = encoder.encodeInto(json, bytes);
        state[1] = written;
        Atomics.store(state, 0, 2);
        Atomics.notify(state, 0);
      }
    })();`;
  Atomics.store(state, 0, -1);
  const worker = new Worker(code, { eval: true, workerData: { shared, bundlePath } });
  while (Atomics.load(state, 0) === -1) await Atomics.waitAsync(state, 0, -1).value;
  const decoder = new TextDecoder();
  return {
    async evaluate(json) {
      const { written } = encoder.encodeInto(json, bytes);
      state[1] = written;
      Atomics.store(state, 0, 1);
      Atomics.notify(state, 0);
      const wait = Atomics.waitAsync(state, 0, 1);
      if (wait.async) await wait.value;
      const result = JSON.parse(decoder.decode(bytes.slice(0, state[1])));
      Atomics.store(state, 0, 0);
      return result;
    },
    async close() {
      Atomics.store(state, 0, 3);
      Atomics.notify(state, 0);
      await worker.terminate();
    },
  };
}
