#!/usr/bin/env node
// Starvation by a runaway policy input (review of issue 13 item 2): another client's cache-miss
// Check latency while one caller keeps K runaway Checks in flight (the same request repeated), with
// eval_timeout_ms 100 and the decision cache on (defaults). Runs each given build in the same
// invocation, in this process (startApp), one after the other:
//   node bench/eval-starvation.mjs [--baseline <other dist dir>] [--k 2] [--seconds 5] [--distinct]
// --distinct: every runaway Check is a different request (/runaway/<n>), so the short memory of
// runaway cache keys (authz/recent-runaways.ts) does not apply and only the thread dispatch does.
// Prints, per build: the victim's miss latency (ms, p50/p99) unloaded and under the runaways, cache
// hits under the runaways, how the runaway Checks were answered (reason codes) and how many.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { credentials, makeGenericClientConstructor } from '@grpc/grpc-js';
import { AUTHORIZATION_SERVICE } from '../dist/grpc/check-service.js';
import { authzProtos } from '../dist/grpc/protos.js';
import { fromProtoJson } from '../dist/authz/proto-json.js';
import { shorthandRequest } from '../dist/commands/common.js';

const { values } = parseArgs({ options: { distinct: { type: 'boolean', default: false }, baseline: { type: 'string' }, k: { type: 'string', default: '2' }, seconds: { type: 'string', default: '5' } } });
const K = Number(values.k);
const SECONDS = Number(values.seconds);
const root = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'gatehouse-eval-starvation-'));
writeFileSync(
  path.join(work, 'p.rego'),
  `package envoy.authz
import rego.v1
default allow := false
allow if input.parsed_path == ["public"]
allow if {
  input.parsed_path[0] == "runaway"
  r := numbers.range(1, 1000)
  some i in r
  some j in r
  some k in r
  i > j
  j > k
  k > i
}
`,
);
const bundlePath = path.join(work, 'bundle.tar.gz');
execFileSync(process.execPath, [path.join(root, 'dist/main.js'), 'build', '--policies', work, '--out', bundlePath], { stdio: 'inherit' });

const protos = authzProtos();
const request = (p) => protos.encodeCheckRequest(fromProtoJson(protos.CheckRequest, shorthandRequest({ source: 'spiffe://mesh.local/ns/shop/sa/checkout', method: 'GET', path: p })));
/** The reason_code of a CheckResponse (its dynamic metadata), read from the encoded bytes. */
const reasonOf = (reply) => /reason_code[^a-z_]*([a-z_]+)/.exec(Buffer.from(reply).toString('latin1'))?.[1] ?? 'unknown';
const pct = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]);
};

async function run(label, dist) {
  // The server in its own process (`gatehouse serve --workers 1`), as deployed; this process is the two clients.
  const child = spawn(process.execPath, [path.join(dist, 'main.js'), 'serve', '--bundle', bundlePath, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0', '--workers', '1', '--decision-log', 'off', '--eval-timeout-ms', '100'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  for (let waited = 0; !stderr.includes('gatehouse is serving'); waited += 50) {
    if (waited > 30_000) throw new Error(`${label}: serve did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const { grpc_port: port } = JSON.parse(stderr.split('\n').find((line) => line.includes('gatehouse is serving')));
  const Client = makeGenericClientConstructor(AUTHORIZATION_SERVICE, 'Authorization');
  // Two connections, as two clients (Envoys) would have.
  const attacker = new Client(`127.0.0.1:${port}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const victim = new Client(`127.0.0.1:${port}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const check = (client, bytes) =>
    new Promise((resolve) => {
      const start = performance.now();
      client.Check(bytes, { deadline: Date.now() + 10_000 }, (error, reply) => {
        resolve({ ms: performance.now() - start, reason: error ? `rpc_error_${error.code}` : reasonOf(reply) });
      });
    });
  let n = 0;
  const miss = () => check(victim, request(`/n/${label}/${n++}`));
  const hitBytes = request('/public');
  const series = async (f, count) => {
    const ms = [];
    for (let i = 0; i < count; i++) ms.push((await f()).ms);
    return ms;
  };
  await new Promise((resolve) => setTimeout(resolve, 2000)); // threads started
  await check(victim, hitBytes);
  const baseMiss = await series(miss, 50);
  let stop = false;
  const reasons = {};
  let runaways = 0;
  const loops = Array.from({ length: K }, async () => {
    while (!stop) {
      const { reason } = await check(attacker, request(values.distinct ? `/runaway/${runaways}` : '/runaway'));
      reasons[reason] = (reasons[reason] ?? 0) + 1;
      runaways++;
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  // The victim: one miss and one hit every 100 ms for SECONDS (each awaited: a slow answer delays the next).
  const started = performance.now();
  const loadMiss = [];
  const loadHit = [];
  while (performance.now() - started < SECONDS * 1000 || loadMiss.length < 5) {
    loadMiss.push((await miss()).ms);
    loadHit.push((await check(victim, hitBytes)).ms);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const seconds = (performance.now() - started) / 1000;
  stop = true;
  await Promise.all(loops);
  console.log(
    `${label.padEnd(9)} misses unloaded p50/p99 ${pct(baseMiss, 0.5)}/${pct(baseMiss, 0.99)} ms | under ${K} runaway loops: ${loadMiss.length} misses ${pct(loadMiss, 0.5)}/${pct(loadMiss, 0.99)} ms, hits ${pct(loadHit, 0.5)}/${pct(loadHit, 0.99)} ms | runaway Checks ${runaways} in ${seconds.toFixed(1)} s, reasons ${JSON.stringify(reasons)}`,
  );
  attacker.close();
  victim.close();
  child.kill('SIGKILL');
  return pct(loadMiss, 0.5);
}

const results = [];
if (values.baseline) results.push(await run('baseline', path.resolve(values.baseline)));
results.push(await run('this', path.join(root, 'dist')));
if (results.length === 2) console.log(`miss p50 under runaways, this / baseline: ${(results[1] / Math.max(1, results[0])).toFixed(3)}`);
