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
import { readFileSync } from 'node:fs';
import http from 'node:http';
import protobuf from 'protobufjs';
import { cpuSeconds, freePort, peakRssMb, sleep } from './lib/proc.mjs';
import { CheckClient } from './lib/servers.mjs';
import { benchOptions, drive, prepareBundle, runRounds, startServe } from './lib/variants.mjs';

const { checks, concurrency, rounds } = benchOptions(import.meta.url);
const { bundle, corpus } = prepareBundle('tracing');

// The OTLP sink: accepts every export (200, empty ExportTraceServiceResponse), counts the requests
// and the spans in them (decoded with protobufjs from the OTLP message shapes, spans' fields skipped).
const OTLP = protobuf.Root.fromJSON({
  nested: {
    ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
    ResourceSpans: { fields: { scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 } } },
    ScopeSpans: { fields: { spans: { rule: 'repeated', type: 'Span', id: 2 } } },
    Span: { fields: { name: { type: 'string', id: 5 } } },
  },
}).lookupType('ExportTraceServiceRequest');
let exports = 0;
let exportedBytes = 0;
let exportedSpans = 0;
const sink = http.createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks);
    exports++;
    exportedBytes += body.length;
    for (const resource of OTLP.decode(body).resourceSpans) for (const scope of resource.scopeSpans) exportedSpans += scope.spans.length;
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
  const server = startServe(['--bundle', bundle, '--addr', `127.0.0.1:${port}`, '--admin-addr', 'off', '--workers', '1', '--decision-log', 'off', '--log-level', 'info', ...variant.flags], {
    OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint, OTEL_SERVICE_NAME: 'gatehouse-bench', ...variant.env,
  });
  const { child } = server;
  const client = new CheckClient(port);
  try {
    const startupMs = await server.serving;
    const readyRssMb = rssMb(child.pid);
    const exportsBefore = exports;
    const spansBefore = exportedSpans;
    // Warm-up, then the measured Checks.
    await drive(client, corpus, 2000, concurrency);
    const cpu0 = cpuSeconds(child.pid);
    const t0 = performance.now();
    await drive(client, corpus, checks, concurrency);
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
      // Warm-up and measured Checks; 3 spans on a cache hit, 4 on a miss: below 3 means spans were dropped.
      spansPerCheck: +((exportedSpans - spansBefore) / (checks + 2001)).toFixed(2),
    };
  } finally {
    client.close();
    await server.stop();
  }
}

function rssMb(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

/**
 * In-process: CPU per Check of recording its spans (otel-tracer's record) and exporting them to the
 * sink, without the server around it: steadier than the server rows on a busy machine.
 */
async function inProcess(sampler, n = 20_000) {
  Object.assign(process.env, { OTEL_TRACES_SAMPLER: sampler, OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint, OTEL_SERVICE_NAME: 'gatehouse-bench' });
  const { createOtelTracer } = await import('../dist/observability/otel-tracer.js');
  const logger = { warn: () => undefined };
  const tracer = createOtelTracer({ logger });
  const outcomes = corpus.slice(0, 1000).map((request, i) => ({
    decisionId: `d-${i}`, allowed: i % 3 !== 0, httpStatus: i % 3 === 0 ? 403 : 200, reasonLabel: i % 3 === 0 ? 'policy_denied' : 'policy_allowed', reason: 'r', cache: 'miss', revision: 'bench',
    input: { attributes: request.attributes, identity: { source: { valid: true, principal: 'spiffe://bench/ns/a/sa/b' } } },
    timings: { inputNs: 20_000, evalNs: 30_000, totalNs: 50_000, cacheNs: 2000, evalStartNs: 23_000 },
  }));
  const run = async (count) => {
    for (let i = 0; i < count; i++) {
      const start = tracer.now();
      tracer.record(outcomes[i % outcomes.length], { startMs: start, endMs: start + 0.06 }, false);
      if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve)); // let the exporter run, as between Checks
    }
  };
  await run(2000);
  const spans0 = exportedSpans;
  const cpu = process.cpuUsage();
  await run(n);
  await tracer.shutdown(30_000);
  const used = process.cpuUsage(cpu);
  return { sampler, cpuUsPerCheck: +((used.user + used.system) / n).toFixed(1), spansPerCheck: +((exportedSpans - spans0) / n).toFixed(2) };
}

const results = await runRounds(rounds, VARIANTS, runVariant);
const micro = [await inProcess('parentbased_always_on'), await inProcess('always_off')];
sink.close();

// Per variant: the median over rounds; ratios against the first off run of the same invocation.
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summary = VARIANTS.map(({ name }) => {
  const rows = results.filter((r) => r.variant === name);
  const pick = (key) => median(rows.map((r) => r[key]));
  return { name, startupMs: pick('startupMs'), readyRssMb: pick('readyRssMb'), checksPerSecond: pick('checksPerSecond'), cpuUsPerCheck: pick('cpuUsPerCheck'), peakRssMb: pick('peakRssMb'), otlpExports: pick('otlpExports'), spansPerCheck: pick('spansPerCheck') };
});
const base = summary[0];
console.log(`\ntracing cost: ${checks} Checks x ${rounds} round(s), concurrency ${concurrency}, benchmark corpus (sampled traceparent on every request), one gatehouse process, decision log off\n`);
console.log('| tracing | start-up ms | RSS ready MiB | Checks/s | vs off | server CPU µs/Check | vs off | peak RSS MiB | OTLP exports | spans/Check exported |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const row of summary) {
  console.log(`| ${row.name} | ${row.startupMs} | ${row.readyRssMb} | ${row.checksPerSecond} | ${(row.checksPerSecond / base.checksPerSecond).toFixed(3)} | ${row.cpuUsPerCheck} | ${(row.cpuUsPerCheck / base.cpuUsPerCheck).toFixed(3)} | ${row.peakRssMb} | ${row.otlpExports} | ${row.spansPerCheck} |`);
}
console.log(`\nexported ${(exportedBytes / 1024).toFixed(0)} KiB of OTLP protobuf, ${exportedSpans} spans, in ${exports} requests in all (3 spans on a cache hit, 4 on a miss: fewer per Check means the span queue overflowed)`);
console.log('\nin-process, recording one Check\'s spans (4: server, input, cache, evaluate) and exporting them, without the server (sink in this process too):');
console.log('| sampler | CPU µs/Check | spans/Check exported |');
console.log('|---|---|---|');
for (const row of micro) console.log(`| ${row.sampler} | ${row.cpuUsPerCheck} | ${row.spansPerCheck} |`);
