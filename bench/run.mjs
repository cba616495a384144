#!/usr/bin/env node
// OPA_ENVOY_PLUGIN=/path/to/opa-envoy-plugin npm run bench [-- --quick] [--rounds N] [--seconds S]
//   [--no-envoy] [--no-2core] [--no-logs-off] [--server-cpu 0] [--load-cpus 1] [--profile | --profile-only]
//
// Issue 13's side-by-side benchmark against the real opa-envoy-plugin (the labelled stand-in when
// OPA_ENVOY_PLUGIN is not set); bench/README.md explains the method. Every number printed is
// measured in this invocation, and ratios are against the incumbent measured in this invocation.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeCorpus } from './corpus.mjs';
import { envoyOverhead } from './envoy-overhead.mjs';
import { runGhz } from './lib/ghz.mjs';
import { cpuCount, freePort, loadAverage, machineBusySeconds, runqueueWaitSeconds, sleep, treeCpuSeconds, treePeakRssMb } from './lib/proc.mjs';
import { cacheLookups, decisions, serverKinds, waitReady } from './lib/servers.mjs';
import { ROOT, ensureGhz, ensureIncumbent, envoyBinary, versions } from './lib/tools.mjs';
import { print as printProfile, summarise as summariseProfile } from './profile-summary.mjs';
import { evaluateTargets, renderReport } from './lib/report.mjs';

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    'no-envoy': { type: 'boolean', default: false },
    'no-2core': { type: 'boolean', default: false },
    'no-logs-off': { type: 'boolean', default: false },
    'server-cpu': { type: 'string', default: '0' },
    'load-cpus': { type: 'string', default: '1' },
    'quiet-wait': { type: 'string' },
    profile: { type: 'boolean', default: false },
    'profile-only': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  process.stdout.write(`Usage: npm run bench [-- flags]   (node bench/run.mjs [flags])

gatehouse side by side with opa-envoy-plugin (OPA_ENVOY_PLUGIN=/path/to/binary; without it the
labelled stand-in bench/opa-standin), same policy, requests and machine; prints a markdown table
with ratios and issue 13's targets, writes bench/results/latest.{md,json}. bench/README.md has
the method.

  --quick              1 round, 3 s phases (~3 minutes)
  --rounds N           rounds, server order reversed each round (default 2)
  --seconds S          seconds per measured phase (default 6)
  --no-envoy           skip the through-Envoy rows
  --no-2core           skip the 2-core rows
  --no-logs-off        skip the decision-logs-off rows
  --server-cpu C       CPU the 1-core servers are pinned to (default 0)
  --load-cpus LIST     CPUs for ghz (default 1)
  --quiet-wait S       before each server, wait up to S seconds for other processes to go quiet
  --profile            also CPU-profile gatehouse at saturation
  --profile-only       only the profiles (bench/results/profiles/)
  -h, --help           this help
`);
  process.exit(0);
}
const QUICK = opts.quick;
const ROUNDS = Number(opts.rounds ?? (QUICK ? 1 : 2));
const SECONDS = Number(opts.seconds ?? (QUICK ? 3 : 6));
const WARM_SECONDS = QUICK ? 1 : 2;
/** Longest wait for a quiet gap on a shared machine before each server (`--quiet-wait S`). */
const QUIET_WAIT_SECONDS = Number(opts['quiet-wait'] ?? (QUICK ? 10 : 30));
const RATES = [1000, 3000];
const DIFF_SAMPLE = QUICK ? 200 : 500;
const SERVER_CPU = opts['server-cpu'];
const LOAD_CPU = opts['load-cpus'];
const LOAD_CPU_COUNT = LOAD_CPU.split(',').length;
/** What a refusal caused by the load generator should tell the operator to change. */
const GHZ_FIX = cpuCount() > 2
  ? `give ghz more CPUs: --load-cpus with CPUs other than the server's (now ${LOAD_CPU}; this machine has ${cpuCount()})`
  : `run on a machine with 3 or more CPUs and pass --load-cpus 1,2 (this machine has ${cpuCount()}, so ghz has one CPU)`;

const RESULTS = path.join(ROOT, 'bench', 'results');
const WORK = path.join(RESULTS, 'work');
const log = (line) => process.stderr.write(`${line}\n`);
const startedAt = new Date();

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: cpuCount(),
    cpuModel: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? 'unknown',
    memGb: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    kernel: os.release(),
    loadAverageAtStart: loadAverage(),
    shared: 'measured on a shared 2-core machine while other engineers ran tests; expect noise, compare ratios within one run',
  };
}

/**
 * CPU accounting for one measured phase: what the server used, how long it waited for a CPU
 * (contention), and how much of the machine other processes (other engineers' tests) used.
 */
function window(pid) {
  const start = { t: performance.now(), cpu: treeCpuSeconds(pid), wait: runqueueWaitSeconds(pid), machine: machineBusySeconds(), self: process.cpuUsage() };
  return (ghzCpuFraction) => {
    const wall = (performance.now() - start.t) / 1000;
    const cpu = treeCpuSeconds(pid) - start.cpu;
    const self = process.cpuUsage(start.self);
    const busy = cpu / wall;
    const wait = (runqueueWaitSeconds(pid) - start.wait) / wall;
    const machine = (machineBusySeconds() - start.machine) / wall;
    const foreign = Math.max(0, machine - busy - ghzCpuFraction - (self.user + self.system) / 1e6 / wall);
    return { wall, cpu, busy, wait, foreign };
  };
}

/**
 * Decision logs grow by ~3 KB per Check (tens of MB per row): once measured, keep only the first
 * 64 KiB (start-up messages and the first decisions, enough to inspect the format).
 */
function keepHead(file) {
  if (!file) return;
  try { if (statSync(file).size > 65_536) truncateSync(file, 65_536); } catch { /* never written */ }
}

/** Bytes in a server's decision-log file (0 when it has none yet). */
const fileBytes = (file) => { try { return statSync(file).size; } catch { return 0; } };

/**
 * On a shared machine: before starting a server, wait (at most `maxSeconds`) until other
 * processes use under 0.3 cores over one second, so each measurement starts in a quiet gap if
 * there is one. Returns the cores other processes used at the last sample and the seconds waited.
 */
async function awaitQuiet(maxSeconds) {
  const t0 = performance.now();
  for (;;) {
    const m0 = machineBusySeconds();
    const s0 = process.cpuUsage();
    await sleep(1000);
    const self = process.cpuUsage(s0);
    const foreign = Math.max(0, machineBusySeconds() - m0 - (self.user + self.system) / 1e6);
    const waited = (performance.now() - t0) / 1000;
    if (foreign < 0.3 || waited >= maxSeconds) return { foreign: round2(foreign), waited: Math.round(waited) };
    await sleep(1000);
  }
}

async function measureServer(kind, tools, corpus, round) {
  const quiet = await awaitQuiet(QUIET_WAIT_SECONDS);
  if (quiet.waited > 1) log(`  (waited ${quiet.waited} s for a quiet machine; other processes at ${quiet.foreign} cores)`);
  const port = await freePort();
  const adminPort = await freePort();
  const proc = kind.start({ cpus: SERVER_CPU, port, adminPort });
  const m = { server: kind.name, round, invalid: [], quiet };
  try {
    await waitReady(port, corpus.requests[0], proc);
    if (kind.name !== 'grpc-js-noop') m.decisions = await decisions(port, corpus.requests, DIFF_SAMPLE);
    const ghzBase = { ghz: tools.ghz, port, corpus: corpus.file, cpus: LOAD_CPU, ghzCpus: LOAD_CPU_COUNT };
    await runGhz({ ...ghzBase, seconds: WARM_SECONDS, outFile: path.join(WORK, 'ghz-warm.json') });
    const logBytes0 = proc.decisionLog ? fileBytes(proc.decisionLog) : 0;

    // Saturation: as many calls as the server answers, 50 in flight on one HTTP/2 connection (as Envoy's one per worker).
    let w = window(proc.pid);
    const sat = await runGhz({ ...ghzBase, seconds: SECONDS, outFile: path.join(WORK, 'ghz-sat.json') });
    let acc = w(sat.ghzCpuFraction);
    m.saturation = {
      rps: Math.round(sat.rps), serverBusy: round2(acc.busy), serverWait: round2(acc.wait), foreignCores: round2(acc.foreign), ghzCpu: round2(sat.ghzCpuFraction), errors: sat.errors,
      cpuUsPerCheck: Number(((acc.cpu / sat.count) * 1e6).toFixed(1)),
      // Throughput per second of server CPU: what one whole core would answer. Robust to the
      // CPU that other processes on this shared machine took from the server's core.
      perCpuSecond: Math.round(sat.count / acc.cpu),
    };
    if (proc.decisionLog) {
      // Proof the decision log was really written during the measured phase (bytes per Check).
      m.decisionLogBytesPerCheck = Math.round((fileBytes(proc.decisionLog) - logBytes0) / Math.max(1, sat.count));
      if (m.decisionLogBytesPerCheck < 50) m.invalid.push(`decision logging was meant to be on but ${m.decisionLogBytesPerCheck} bytes per Check reached ${path.relative(ROOT, proc.decisionLog)}: check the server's decision-log settings in bench/lib/servers.mjs`);
    }
    if (sat.errors > 0) m.invalid.push(`saturation: ${sat.errors} calls failed (${JSON.stringify(sat.statuses)} ${JSON.stringify(sat.errorDistribution)}): see the server log under bench/results/work/`);
    if (acc.busy + acc.wait < 0.85) {
      // Not saturated: the calls per CPU-second is still measured, but only as a lower bound of
      // the server's capacity (an idle-ish server batches less). The row is kept, marked.
      const ghzLoad = (sat.ghzCpuFraction + sat.ghzWaitFraction) / LOAD_CPU_COUNT;
      m.saturation.lowerBound = sat.ghzCpuFraction >= 0.85 * LOAD_CPU_COUNT
        ? `ghz at ${pct(sat.ghzCpuFraction / LOAD_CPU_COUNT)} of its CPU while the server ran or waited only ${pct(acc.busy + acc.wait)} of the time: ${GHZ_FIX}`
        : ghzLoad >= 0.85 || acc.foreign >= 0.5
          ? `ghz ran ${pct(sat.ghzCpuFraction / LOAD_CPU_COUNT)} and waited for its CPU ${pct(sat.ghzWaitFraction / LOAD_CPU_COUNT)} of the time (other processes used ${fmtCores(acc.foreign)} cores): rerun when the machine is quieter, or ${GHZ_FIX}`
          : `neither the server (${pct(acc.busy)} busy + ${pct(acc.wait)} waiting) nor ghz (${pct(sat.ghzCpuFraction / LOAD_CPU_COUNT)} + ${pct(sat.ghzWaitFraction / LOAD_CPU_COUNT)} waiting) was saturated: raise the in-flight calls (-c in bench/lib/ghz.mjs) or look for a stall in the server log`;
    }

    for (const rate of RATES) {
      w = window(proc.pid);
      const r = await runGhz({ ...ghzBase, rate, seconds: SECONDS, outFile: path.join(WORK, `ghz-${rate}.json`) });
      acc = w(r.ghzCpuFraction);
      const entry = { rate, achieved: Math.round(r.rps), p50: r.p50, p90: r.p90, p99: r.p99, p999: r.p999, errors: r.errors, serverBusy: round2(acc.busy), serverWait: round2(acc.wait), foreignCores: round2(acc.foreign), ghzCpu: round2(r.ghzCpuFraction), ghzWait: round2(r.ghzWaitFraction), cpuUsPerCheck: Number(((acc.cpu / r.count) * 1e6).toFixed(1)) };
      if (r.errors > 0) m.invalid.push(`${rate}/s: ${r.errors} calls failed (${JSON.stringify(r.statuses)} ${JSON.stringify(r.errorDistribution)}): see the server log under bench/results/work/`);
      if (r.rps < 0.95 * rate) {
        // A server that cannot keep up is a result (marked saturated); a load generator that could
        // not offer the rate voids only this rate's latencies, not the row.
        if (acc.busy + acc.wait >= 0.85) entry.saturated = `server saturated: sustained ${Math.round(r.rps)}/s of ${rate}/s (busy ${pct(acc.busy)}, waiting for CPU ${pct(acc.wait)}); latencies include queueing`;
        else if (r.ghzCpuFraction >= 0.85 * LOAD_CPU_COUNT) entry.notOffered = `only ${Math.round(r.rps)}/s offered, ghz at ${pct(r.ghzCpuFraction / LOAD_CPU_COUNT)} of its CPU: ${GHZ_FIX}`;
        else entry.notOffered = `only ${Math.round(r.rps)}/s achieved; server ${pct(acc.busy)} busy + ${pct(acc.wait)} waiting, ghz ${pct(r.ghzCpuFraction / LOAD_CPU_COUNT)} + ${pct(r.ghzWaitFraction / LOAD_CPU_COUNT)} waiting, other processes ${fmtCores(acc.foreign)} cores: rerun when the machine is quieter`;
      }
      m[`r${rate}`] = entry;
    }
    if (kind.admin) m.cache = await cacheLookups(adminPort);
    const rss = treePeakRssMb(proc.pid);
    m.peakRssMb = Number((rss.max ?? 0).toFixed(1));
    m.processes = rss.processes;
  } catch (error) {
    m.invalid.push(`run failed: ${error.message}`);
  } finally {
    await proc.stop();
    keepHead(proc.decisionLog);
  }
  const brief = m.saturation ? `sat ${m.saturation.rps}/s = ${m.saturation.perCpuSecond}/CPU-s (server ${pct(m.saturation.serverBusy)} busy + ${pct(m.saturation.serverWait)} waiting, ghz ${pct(m.saturation.ghzCpu)}, others ${m.saturation.foreignCores} cores), p99 @1000 ${m.r1000?.p99} ms, @3000 ${m.r3000?.p99} ms, ${m.r1000?.cpuUsPerCheck} µs CPU/Check, RSS ${m.peakRssMb} MB${m.decisionLogBytesPerCheck ? `, ${m.decisionLogBytesPerCheck} log bytes/Check` : ''}` : '';
  const notes = [m.saturation?.lowerBound && `saturation is a lower bound: ${m.saturation.lowerBound}`, ...RATES.map((rate) => m[`r${rate}`]?.notOffered && `${rate}/s latencies void: ${m[`r${rate}`].notOffered}`)].filter(Boolean);
  log(`  round ${round + 1} ${kind.name}: ${brief}${notes.length ? `  NOTE: ${notes.join('; ')}` : ''}${m.invalid.length ? `  INVALID: ${m.invalid.join('; ')}` : ''}`);
  return m;
}

/**
 * Two cores: one server allowed both CPUs (gatehouse with 2 workers, the plugin with GOMAXPROCS=2),
 * ghz allowed the same two CPUs (on a 2-core machine there is nowhere else for it). The server's
 * calls per CPU-second is the comparable figure; raw calls/s is shown beside it.
 */
async function twoCores(kind, tools, corpus, round) {
  await awaitQuiet(QUIET_WAIT_SECONDS);
  const port = await freePort();
  const proc = kind.start({ cpus: TWO_CPUS, port, adminPort: await freePort() });
  const m = { server: kind.name, round, invalid: [] };
  try {
    await waitReady(port, corpus.requests[0], proc);
    // Several connections: gatehouse's workers share the listener per connection (as Envoy's worker threads each open their own).
    const ghzBase = { ghz: tools.ghz, port, corpus: corpus.file, cpus: TWO_CPUS, ghzCpus: 2, connections: 4, concurrency: 64 };
    await runGhz({ ...ghzBase, seconds: WARM_SECONDS, outFile: path.join(WORK, 'ghz-2core-warm.json') });
    const w = window(proc.pid);
    const sat = await runGhz({ ...ghzBase, seconds: SECONDS, outFile: path.join(WORK, 'ghz-2core-sat.json') });
    const acc = w(sat.ghzCpuFraction);
    Object.assign(m, {
      rps: Math.round(sat.rps), serverCores: round2(acc.busy), ghzCores: round2(sat.ghzCpuFraction), serverWait: round2(acc.wait), foreignCores: round2(acc.foreign),
      perCpuSecond: Math.round(sat.count / acc.cpu), errors: sat.errors,
    });
    if (sat.errors > 0) m.invalid.push(`${sat.errors} calls failed (${JSON.stringify(sat.statuses)}): see the server log under bench/results/work/`);
    const rss = treePeakRssMb(proc.pid);
    m.peakRssMb = Number((rss.max ?? 0).toFixed(1));
    m.processes = rss.processes;
  } catch (error) {
    m.invalid.push(`run failed: ${error.message}`);
  } finally {
    await proc.stop();
    keepHead(proc.decisionLog);
  }
  log(`  round ${round + 1} ${kind.name} on CPUs ${TWO_CPUS}: ${m.rps}/s = ${m.perCpuSecond}/server CPU-s (server ${m.serverCores} cores, ghz ${m.ghzCores} cores, ${m.processes} process(es), largest RSS ${m.peakRssMb} MB)${m.invalid.length ? `  INVALID: ${m.invalid.join('; ')}` : ''}`);
  return m;
}

async function profile(kind, tools, corpus) {
  const dir = path.join(RESULTS, 'profiles', kind.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const proc = kind.start({ cpus: SERVER_CPU, port, adminPort: await freePort(), nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir] });
  try {
    await waitReady(port, corpus.requests[0], proc);
    await runGhz({ ghz: tools.ghz, port, corpus: corpus.file, cpus: LOAD_CPU, seconds: WARM_SECONDS, outFile: path.join(WORK, 'ghz-prof-warm.json') });
    await runGhz({ ghz: tools.ghz, port, corpus: corpus.file, cpus: LOAD_CPU, seconds: SECONDS, outFile: path.join(WORK, 'ghz-prof.json') });
  } finally {
    await proc.stop(15_000);
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return { server: kind.name, error: 'no .cpuprofile written' };
  const summary = summariseProfile(path.join(dir, file), 30);
  printProfile(summary, log);
  return { server: kind.name, ...summary, path: path.relative(ROOT, path.join(dir, file)) };
}

const round2 = (x) => Number(x.toFixed(2));
const fmtCores = (x) => x.toFixed(2);
const TWO_CPUS = '0,1';
const pct = (x) => `${Math.round(x * 100)}%`;

function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** One row per server: the median over rounds; refused when any round was invalid. */
function aggregate(runs) {
  const rows = {};
  for (const [key, all] of Object.entries(runs)) {
    // A round the harness could not finish (server did not start, ghz did not exit) is dropped
    // and noted when another round of the same server completed; failed calls always refuse the row.
    const completed = all.filter((m) => !m.runFailed);
    const list = completed.length ? completed : all;
    const dropped = completed.length ? all.filter((m) => m.runFailed).map((m) => `round ${m.round + 1} dropped: ${m.invalid.join('; ')}`) : [];
    const invalid = list.flatMap((m) => m.invalid.map((r) => `round ${m.round + 1}: ${r}`));
    const get = (f) => median(list.map(f));
    const row = { server: list[0].server, rounds: list.length, invalid, dropped };
    row.saturationRps = get((m) => m.saturation?.rps);
    row.saturationRpsPerRound = list.map((m) => m.saturation?.rps);
    row.perCpuSecond = get((m) => m.saturation?.perCpuSecond);
    // ghz could not saturate this server: its calls per CPU-second is then only a lower bound of its capacity.
    row.saturationLowerBound = list.map((m) => m.saturation?.lowerBound && `round ${m.round + 1}: ${m.saturation.lowerBound}`).filter(Boolean);
    row.saturationServerBusy = get((m) => m.saturation?.serverBusy);
    row.saturationServerWait = get((m) => m.saturation?.serverWait);
    row.foreignCores = Math.max(...list.flatMap((m) => [m.saturation?.foreignCores, m.r1000?.foreignCores, m.r3000?.foreignCores].filter((x) => x !== undefined)));
    for (const rate of RATES) {
      row[`r${rate}`] = {};
      for (const f of ['p50', 'p90', 'p99', 'p999', 'cpuUsPerCheck', 'achieved', 'serverWait', 'foreignCores']) row[`r${rate}`][f] = get((m) => m[`r${rate}`]?.[f]);
      const saturated = list.map((m) => m[`r${rate}`]?.saturated).filter(Boolean);
      if (saturated.length) row[`r${rate}`].saturated = saturated[0];
      const notOffered = list.map((m) => m[`r${rate}`]?.notOffered && `round ${m.round + 1}: ${m[`r${rate}`].notOffered}`).filter(Boolean);
      if (notOffered.length) row[`r${rate}`].notOffered = notOffered.join('; ');
    }
    row.cpuUsPerCheck = row.r1000.cpuUsPerCheck;
    row.cpuUsPerCheckAtSaturation = get((m) => m.saturation?.cpuUsPerCheck);
    row.peakRssMb = Math.max(...list.map((m) => m.peakRssMb ?? 0));
    row.decisionLogBytesPerCheck = get((m) => m.decisionLogBytesPerCheck);
    row.processes = Math.max(...list.map((m) => m.processes ?? 0));
    if (list[0].cache) row.cacheHitRate = round2(median(list.map((m) => m.cache.hit / Math.max(1, m.cache.hit + m.cache.miss))));
    rows[key] = row;
  }
  return rows;
}

function compareDecisions(runs) {
  const sets = Object.entries(runs).filter(([k]) => k !== 'noop').flatMap(([k, list]) => list.filter((m) => m.decisions).map((m) => [k, m.decisions]));
  if (sets.length < 2) return { compared: 0, mismatches: [] };
  const [refName, ref] = sets[0];
  const mismatches = [];
  for (const [name, d] of sets.slice(1)) {
    for (let i = 0; i < ref.length; i++) if (JSON.stringify(ref[i]) !== JSON.stringify(d[i])) mismatches.push(`${name} vs ${refName} on request ${i}: ${JSON.stringify(d[i])} vs ${JSON.stringify(ref[i])}`);
  }
  return { compared: ref.length, allowed: ref.filter((x) => x[0]).length, mismatches: mismatches.slice(0, 10), mismatchCount: mismatches.length };
}

async function main() {
  const t0 = Date.now();
  if (!existsSync(path.join(ROOT, 'dist', 'main.js'))) throw new Error('dist/ is missing: run ./dev setup first');
  if (cpuCount() < 2) throw new Error('needs at least 2 CPUs (server on one, load generator on the other)');
  execFileSync('taskset', ['-a', '-pc', LOAD_CPU, String(process.pid)], { stdio: 'ignore' }); // the harness (and its HTTP client) beside the load generator
  mkdirSync(WORK, { recursive: true });
  const info = machine();
  log(`gatehouse benchmark (${QUICK ? 'quick' : 'full'}: ${ROUNDS} round(s), ${SECONDS} s per phase) on ${info.nproc}× ${info.cpuModel}, load average ${info.loadAverageAtStart.join(' ')}`);
  log(`NOTE: ${info.shared}.`);
  const tools = { ghz: ensureGhz(log) };
  const incumbent = ensureIncumbent(log);
  const corpus = writeCorpus(WORK, 2000);
  log(`corpus: ${corpus.requests.length} distinct CheckRequests (${corpus.withBody} with JSON bodies, mean ${corpus.meanBytes} bytes)`);
  const bundle = path.join(WORK, 'bundle.tar.gz');
  execFileSync(process.execPath, [path.join(ROOT, 'dist', 'main.js'), 'build', '--policies', path.join(ROOT, 'bench', 'policy'), '--out', bundle, '--opa', path.join(ROOT, '.tools', 'bin', 'opa')], { stdio: ['ignore', 'ignore', 'inherit'] });

  const kinds = serverKinds({ incumbent, bundle, workDir: WORK });
  if (opts['profile-only']) {
    const profiles = [];
    for (const key of ['gatehouse-cache-off-logs', 'gatehouse-cache-on-logs']) profiles.push(await profile(kinds[key], tools, corpus));
    writeFileSync(path.join(RESULTS, 'profiles', 'summary.json'), JSON.stringify(profiles, null, 2) + '\n');
    log('profile summaries: bench/results/profiles/summary.json');
    return;
  }
  // Headline: decision logging on for both. Second set: off for both. Alternating order per round.
  const order = ['incumbent-logs', 'gatehouse-cache-off-logs', 'gatehouse-cache-on-logs', ...(opts['no-logs-off'] ? [] : ['incumbent', 'gatehouse-cache-off', 'gatehouse-cache-on']), 'noop'];
  const runs = Object.fromEntries(order.map((k) => [k, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const thisOrder = round % 2 === 0 ? order : [...order].reverse();
    for (const key of thisOrder) runs[key].push(await measureServer(kinds[key], tools, corpus, round));
  }
  const rows = aggregate(runs);
  const decisionCheck = compareDecisions(runs);

  let twoCore;
  if (!opts['no-2core']) {
    log(`2 cores (CPUs ${TWO_CPUS}, shared with ghz): gatehouse --workers 2 vs the incumbent with GOMAXPROCS=2, decision logs on, cache on`);
    const keys = ['incumbent-logs-2', 'gatehouse-cache-on-logs-w2'];
    const twoRuns = Object.fromEntries(keys.map((k) => [k, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const key of round % 2 === 0 ? keys : [...keys].reverse()) twoRuns[key].push(await twoCores(kinds[key], tools, corpus, round));
    }
    twoCore = {};
    for (const [key, list] of Object.entries(twoRuns)) {
      const get = (f) => median(list.map(f));
      twoCore[key] = {
        server: list[0].server, rounds: list.length, invalid: list.flatMap((m) => m.invalid.map((r) => `round ${m.round + 1}: ${r}`)),
        rps: get((m) => m.rps), perCpuSecond: get((m) => m.perCpuSecond), serverCores: get((m) => m.serverCores), ghzCores: get((m) => m.ghzCores),
        serverWait: get((m) => m.serverWait), foreignCores: Math.max(...list.map((m) => m.foreignCores ?? 0)), peakRssMb: Math.max(...list.map((m) => m.peakRssMb ?? 0)),
        processes: list[0].processes,
      };
    }
    // Against gatehouse's own 1 worker (pinned to one CPU, logs on, cache on).
    const one = rows['gatehouse-cache-on-logs'];
    const w2 = twoCore['gatehouse-cache-on-logs-w2'];
    if (one && w2) {
      w2.oneWorker = { rps: one.saturationRps, perCpuSecond: one.perCpuSecond };
      w2.efficiency = w2.perCpuSecond && one.perCpuSecond ? round2(w2.perCpuSecond / one.perCpuSecond) : undefined;
      // What 2 workers would answer with two whole CPUs, relative to 1 worker with one whole CPU.
      w2.projectedScaling = w2.efficiency ? round2(2 * w2.efficiency) : undefined;
      w2.rawScaling = w2.rps && one.saturationRps ? round2(w2.rps / one.saturationRps) : undefined;
    }
  }

  let envoy;
  if (!opts['no-envoy']) {
    const binary = envoyBinary();
    if (!binary) envoy = { skipped: 'Envoy is not installed (./dev setup installs it)' };
    else {
      envoy = {};
      for (const key of QUICK ? ['gatehouse-cache-on-logs'] : ['gatehouse-cache-on-logs', 'gatehouse-cache-off-logs']) {
        log(`through Envoy at 1000/s, ext_authz → ${kinds[key].name} vs ext_authz off`);
        const port = await freePort();
        const proc = kinds[key].start({ cpus: SERVER_CPU, port, adminPort: await freePort() });
        try {
          await waitReady(port, corpus.requests[0], proc);
          envoy[key] = await envoyOverhead({ envoy: binary, gatehousePort: port, corpus: corpus.requests, rate: 1000, seconds: SECONDS * 2, workDir: WORK, cpus: LOAD_CPU, log });
          const e = envoy[key];
          e.invalid = [];
          if (e.on.failed || e.off.failed || e.off.statuses['200'] !== e.off.count) e.invalid.push(`failed or non-200 requests with ext_authz off: ${JSON.stringify(e.off.statuses)}, ${e.off.failed} failed`);
          if (e.on.failed || Object.keys(e.on.statuses).some((s) => s !== '200' && s !== '403')) e.invalid.push(`unexpected statuses with ext_authz on: ${JSON.stringify(e.on.statuses)}, ${e.on.failed} failed`);
          if (Math.min(e.on.achievedRate, e.off.achievedRate) < 950) e.invalid.push(`the HTTP client reached only ${Math.round(Math.min(e.on.achievedRate, e.off.achievedRate))}/s of 1000/s`);
        } catch (error) {
          envoy[key] = { invalid: [`run failed: ${error.message}`] };
        } finally {
          await proc.stop();
        }
      }
    }
  }

  let profiles;
  if (opts.profile) {
    log('profiles (node --cpu-prof) at saturation:');
    profiles = [];
    for (const key of ['gatehouse-cache-off-logs', 'gatehouse-cache-on-logs']) profiles.push(await profile(kinds[key], tools, corpus));
    writeFileSync(path.join(RESULTS, 'profiles', 'summary.json'), JSON.stringify(profiles, null, 2) + '\n');
  }

  const result = {
    startedAt: startedAt.toISOString(),
    durationSeconds: Math.round((Date.now() - t0) / 1000),
    mode: QUICK ? 'quick' : 'full',
    rounds: ROUNDS,
    secondsPerPhase: SECONDS,
    machine: { ...info, loadAverageAtEnd: loadAverage() },
    versions: versions(tools.ghz, incumbent),
    baseline: { name: incumbent.kind === 'opa-standin' ? 'opa-standin' : 'opa-envoy-plugin', kind: incumbent.kind, bin: incumbent.bin, note: incumbent.why ? `${incumbent.why}, so the baseline is bench/opa-standin, NOT the real opa-envoy-plugin (set OPA_ENVOY_PLUGIN=/path/to/opa-envoy-plugin)` : undefined },
    method: {
      serverCpu: SERVER_CPU, loadCpu: LOAD_CPU, twoCpus: TWO_CPUS, concurrency: 50, connections: 1, rates: RATES,
      corpus: { requests: corpus.requests.length, withBody: corpus.withBody, meanBytes: corpus.meanBytes },
      gatehouse: '--workers 1 (2 for the 2-core row), --decision-log <file> (logs-on rows) or off, metrics on, --watch false',
      incumbent: 'decision_logs.console true (logs-on rows, output to a file) or false, GOMAXPROCS=1 (2 for the 2-core row), defaults otherwise',
    },
    decisionCheck,
    servers: rows,
    twoCore,
    envoy,
    profiles,
  };
  result.targets = evaluateTargets(result);
  const report = renderReport(result);
  process.stdout.write(report);
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  writeFileSync(path.join(RESULTS, `bench-${stamp}.json`), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(path.join(RESULTS, 'latest.json'), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(path.join(RESULTS, 'latest.md'), report);
  log(`results: bench/results/bench-${stamp}.json (and latest.json, latest.md); ${result.durationSeconds} s`);
  const refused = Object.values(rows).some((r) => r.invalid.length) || decisionCheck.mismatchCount > 0 || Object.values(twoCore ?? {}).some((r) => r.invalid.length) || Object.values(envoy ?? {}).some((e) => e?.invalid?.length);
  process.exitCode = refused ? 1 : 0;
}

main().catch((error) => {
  log(`bench: ${error.stack ?? error.message}`);
  process.exitCode = 2;
});
