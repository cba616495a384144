#!/usr/bin/env node
// What `tracing: otlp` costs, against `tracing: off`, with the same build in one invocation:
// `gatehouse serve` (dist/, one process, the benchmark policy and corpus, whose requests carry a
// sampled traceparent) under a fixed number of Checks from this process; spans go to a local
// OTLP/HTTP sink that accepts and discards them. For each variant: start-up time (spawn to
// "gatehouse is serving"), RSS once ready, Checks/s, server CPU µs per Check (/proc, the robust
// number on a shared machine), peak RSS, and spans exported.
//   node bench/tracing-cost.mjs [--checks N] [--concurrency C] [--rounds R]
// Variants, in this order each round: off, on (every Check traced: parentbased_always_on and a
// sampled parent), on-unsampled (OTEL_TRACES_SAMPLER=always_off: the SDK loaded, nothing recorded),
// off again (the spread between the two off runs is the noise floor).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { authzProtos } from '../dist/grpc/protos.js';
import { POLICY_DIR, makeCorpus } from './corpus.mjs';
import { cpuSeconds, freePort, peakRssMb, sleep } from './lib/proc.mjs';
import { CheckClient } from './lib/servers.mjs';

const { values } = parseArgs({
  options: {
    checks: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '1' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(readFileSync(new URL(import.meta.url), 'utf8').split('\n').slice(1, 12).map((line) => line.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}
const checks = Number(values.checks);
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);
const root = path.resolve(import.meta.dirname, '..');
const main = path.join(root, 'dist/main.js');
const work = mkdtempSync(path.join(tmpdir(), 'gatehouse-tracing-bench-'));
const bundle = path.join(work, 'bundle.tar.gz');
execFileSync(process.execPath, [main, 'build', '--policies', POLICY_DIR, '--out', bundle], { stdio: 'ignore' });
const data = JSON.parse(readFileSync(path.join(POLICY_DIR, 'data.json'), 'utf8'));
const corpus = makeCorpus(data, 2000);
authzProtos(); // load the protos before timing anything

// The OTLP sink: accepts every export (200, empty ExportTraceServiceResponse) and counts them.
let exports = 0;
let exportedBytes = 0;
const sink = http.createServer((request, response) => {
  request.on('data', (chunk) => (exportedBytes += chunk.length));
  request.on('end', () => {
    exports++;
    response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
});
await new Promise((resolve) => sink.listen(0, '127.0.0.1', resolve));
const otlpEndpoint = `http://127.0.0.1:${sink.address().port}`;

const VARIANTS = [
  { name: 'off', flags: ['--tracing', 'off'], env: {} },
  { name: 'on', flags: ['--tracing', 'otlp'], env: { OTEL_TRACES_SAMPLER: 'parentbased_always_on' } },
  { name: 'on-unsampled', flags: ['--tracing', 'otlp'], env: { OTEL_TRACES_SAMPLER: 'always_off' } },
  { name: 'off (again)', flags: ['--tracing', 'off'], env: {} },
];

async function runVariant(variant) {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [main, 'serve', '--bundle', bundle, '--addr', `127.0.0.1:${port}`, '--admin-addr', 'off', '--workers', '1', '--decision-log', 'off', '--log-level', 'info', ...variant.flags], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint, OTEL_SERVICE_NAME: 'gatehouse-bench', ...variant.env },
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let stderr = '';
  let startupMs;
  let readyRssMb;
  const serving = new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (startupMs === undefined && stderr.includes('gatehouse is serving')) {
        startupMs = performance.now() - started;
        readyRssMb = rssMb(child.pid);
        resolve();
      }
    });
    child.once('exit', () => reject(new Error(`server exited: ${stderr}`)));
    setTimeout(() => reject(new Error(`not serving after 20 s: ${stderr}`)), 20_000).unref();
  });
  const client = new CheckClient(port);
  try {
    await serving;
    const exportsBefore = exports;
    // Warm-up, then the measured Checks.
    await drive(client, 2000);
    const cpu0 = cpuSeconds(child.pid);
    const t0 = performance.now();
    await drive(client, checks);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(child.pid) - cpu0;
    await sleep(variant.name.startsWith('on') ? 5500 : 0); // one OTEL_BSP_SCHEDULE_DELAY: the last batch leaves
    return {
      variant: variant.name,
      startupMs: Math.round(startupMs),
      readyRssMb: +readyRssMb.toFixed(1),
      checksPerSecond: Math.round(checks / seconds),
      cpuUsPerCheck: +((cpu * 1e6) / checks).toFixed(1),
      peakRssMb: +peakRssMb(child.pid).toFixed(1),
      otlpExports: exports - exportsBefore,
    };
  } finally {
    client.close();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** `n` Checks, `concurrency` in flight, cycling through the corpus. */
async function drive(client, n) {
  let next = 0;
  let failed = 0;
  const lane = async () => {
    while (next < n) {
      const request = corpus[next++ % corpus.length];
      try {
        await client.check(request);
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  if (failed > 0) throw new Error(`${failed} Checks failed`);
}

function rssMb(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

const results = [];
for (let round = 0; round < rounds; round++) {
  for (const variant of VARIANTS) {
    const result = await runVariant(variant);
    results.push(result);
    console.error(JSON.stringify(result));
  }
}
sink.close();

// Per variant: the median over rounds; ratios against the first off run of the same invocation.
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summary = VARIANTS.map(({ name }) => {
  const rows = results.filter((r) => r.variant === name);
  const pick = (key) => median(rows.map((r) => r[key]));
  return { name, startupMs: pick('startupMs'), readyRssMb: pick('readyRssMb'), checksPerSecond: pick('checksPerSecond'), cpuUsPerCheck: pick('cpuUsPerCheck'), peakRssMb: pick('peakRssMb'), otlpExports: pick('otlpExports') };
});
const base = summary[0];
console.log(`\ntracing cost: ${checks} Checks x ${rounds} round(s), concurrency ${concurrency}, benchmark corpus (sampled traceparent on every request), one gatehouse process, decision log off\n`);
console.log('| tracing | start-up ms | RSS ready MiB | Checks/s | vs off | server CPU µs/Check | vs off | peak RSS MiB | OTLP exports |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const row of summary) {
  console.log(`| ${row.name} | ${row.startupMs} | ${row.readyRssMb} | ${row.checksPerSecond} | ${(row.checksPerSecond / base.checksPerSecond).toFixed(3)} | ${row.cpuUsPerCheck} | ${(row.cpuUsPerCheck / base.cpuUsPerCheck).toFixed(3)} | ${row.peakRssMb} | ${row.otlpExports} |`);
}
console.log(`\nexported ${(exportedBytes / 1024).toFixed(0)} KiB of OTLP protobuf in ${exports} requests in all`);
