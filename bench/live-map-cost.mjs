#!/usr/bin/env node
// What the live authorization map (admin_ui) costs, against admin_ui off, with the same build in
// one invocation: `gatehouse serve` (dist/, one process, the benchmark policy and a corpus with many
// callers and destinations) under a fixed number of Checks from this process. For each variant:
// Checks/s and server CPU µs per Check (/proc, the robust number on a shared machine), peak RSS.
//   node bench/live-map-cost.mjs [--checks N] [--concurrency C] [--rounds R]
// Variants, in this order each round: off, on (admin_ui, no page open: Checks are counted only),
// on + page (a client reading /live/events, one summary a second), off again (the spread between
// the two off runs is the noise floor). Then in-process: LiveSummary.record per Check against
// GatehouseMetrics.recordCheck (the telemetry every Check already pays), same outcomes.
import { cpuSeconds, freePort, peakRssMb } from './lib/proc.mjs';
import { CheckClient } from './lib/servers.mjs';
import { benchOptions, drive, prepareBundle, runRounds, startServe } from './lib/variants.mjs';

const { checks, concurrency, rounds } = benchOptions(import.meta.url);
const { bundle, corpus } = prepareBundle('live');

const VARIANTS = [
  { name: 'off', flags: [], page: false },
  { name: 'on, no page', flags: ['--admin-ui', 'true'], page: false },
  { name: 'on + page', flags: ['--admin-ui', 'true'], page: true },
  { name: 'off (again)', flags: [], page: false },
];

async function runVariant(variant) {
  const port = await freePort();
  const adminPort = await freePort();
  const server = startServe(['--bundle', bundle, '--addr', `127.0.0.1:${port}`, '--admin-addr', `127.0.0.1:${adminPort}`, '--workers', '1', '--decision-log', 'off', ...variant.flags]);
  const { child } = server;
  const client = new CheckClient(port);
  const page = new AbortController();
  let events = 0;
  try {
    await server.serving;
    if (variant.page) {
      const response = await fetch(`http://127.0.0.1:${adminPort}/live/events`, { signal: page.signal });
      void (async () => {
        try {
          for await (const chunk of response.body) events += (String(Buffer.from(chunk)).match(/event: snapshot/g) ?? []).length;
        } catch {
          // aborted at the end
        }
      })();
    }
    await drive(client, corpus, 2000, concurrency);
    const cpu0 = cpuSeconds(child.pid);
    const t0 = performance.now();
    const events0 = events;
    await drive(client, corpus, checks, concurrency);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(child.pid) - cpu0;
    return {
      variant: variant.name,
      checksPerSecond: Math.round(checks / seconds),
      cpuUsPerCheck: +((cpu * 1e6) / checks).toFixed(1),
      peakRssMb: +peakRssMb(child.pid).toFixed(1),
      pageEvents: events - events0,
    };
  } finally {
    page.abort();
    client.close();
    await server.stop();
  }
}

/** In-process: ns per Check of LiveSummary.record, and of GatehouseMetrics.recordCheck as the baseline. */
async function inProcess(n = 500_000) {
  const { LiveSummary } = await import('../dist/observability/live/live-summary.js');
  const { GatehouseMetrics } = await import('../dist/observability/metrics.js');
  const peer = (principal) => ({ principal, valid: true });
  // 60 callers x 7 destinations: 420 pairs, past the 200-edge bound, so the overflow path runs too.
  const outcomes = Array.from({ length: 1000 }, (_, i) => {
    const allowed = i % 4 !== 0;
    return {
      decisionId: `d-${i}`, allowed, httpStatus: allowed ? 200 : 403, reasonLabel: allowed ? 'policy_allowed' : 'policy_denied', reason: allowed ? 'ok' : `caller ${i % 60} may not call`, cache: i % 3 === 0 ? 'miss' : 'hit', revision: 'bench',
      input: { identity: { source: peer(`spiffe://bench/ns/n${i % 60}/sa/caller`), destination: peer(`spiffe://bench/ns/svc/sa/s${i % 7}`) } },
      timings: { inputNs: 20_000, evalNs: 30_000, totalNs: 40_000 + (i % 7) * 30_000 },
    };
  });
  const time = (record) => {
    for (let i = 0; i < 50_000; i++) record(outcomes[i % outcomes.length]);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) record(outcomes[i % outcomes.length]);
    return Number(process.hrtime.bigint() - t0) / n;
  };
  const metrics = new GatehouseMetrics();
  const summary = new LiveSummary([]);
  const baseline = time((o) => metrics.recordCheck(o));
  const live = time((o) => summary.record(o));
  // The window as a page update computes it, warm: the median of 21.
  const times = [];
  let window;
  for (let i = 0; i < 21; i++) {
    const t0 = process.hrtime.bigint();
    window = summary.window();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const windowMs = times.sort((a, b) => a - b)[10];
  return { baseline, live, windowMs, edges: window.edges.length, bytes: JSON.stringify(window).length };
}

const results = await runRounds(rounds, VARIANTS, runVariant);
const micro = await inProcess();

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summary = VARIANTS.map(({ name }) => {
  const rows = results.filter((r) => r.variant === name);
  const pick = (key) => median(rows.map((r) => r[key]));
  return { name, checksPerSecond: pick('checksPerSecond'), cpuUsPerCheck: pick('cpuUsPerCheck'), peakRssMb: pick('peakRssMb'), pageEvents: pick('pageEvents') };
});
const base = summary[0];
console.log(`\nlive map cost: ${checks} Checks x ${rounds} round(s), concurrency ${concurrency}, benchmark corpus, one gatehouse process, decision log off\n`);
console.log('| admin_ui | Checks/s | vs off | server CPU µs/Check | vs off | peak RSS MiB | page events during the run |');
console.log('|---|---|---|---|---|---|---|');
for (const row of summary) {
  console.log(`| ${row.name} | ${row.checksPerSecond} | ${(row.checksPerSecond / base.checksPerSecond).toFixed(3)} | ${row.cpuUsPerCheck} | ${(row.cpuUsPerCheck / base.cpuUsPerCheck).toFixed(3)} | ${row.peakRssMb} | ${row.pageEvents} |`);
}
console.log('\nin-process, per Check (420 caller/destination pairs, a quarter denied):');
console.log('| what | ns/Check | vs metrics |');
console.log('|---|---|---|');
console.log(`| GatehouseMetrics.recordCheck (baseline, always paid) | ${micro.baseline.toFixed(0)} | 1.000 |`);
console.log(`| LiveSummary.record (admin_ui on) | ${micro.live.toFixed(0)} | ${(micro.live / micro.baseline).toFixed(3)} |`);
console.log(`\none summary of the window (what a page update computes, median of 21): ${micro.windowMs.toFixed(2)} ms, ${micro.edges} edges shown (200 + other), ${(micro.bytes / 1024).toFixed(1)} KiB of JSON`);
