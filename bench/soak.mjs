#!/usr/bin/env node
// npm run soak -- --minutes N [--workers auto] [--clients 16] [--rate 300]
//
// Issue 14 part 5: gatehouse under steady load while its bundle is reloaded every 30 s (every
// third reload a bad bundle the server must refuse), its TLS certificate is rotated every 60 s and,
// when it runs more than one worker, one worker is SIGKILLed every 2 minutes (the primary replaces
// it). The load client behaves like Envoy: a connection that closes is reopened, and a Check that
// ends UNAVAILABLE because its connection closed under it is retried once (counted as a retry, not
// as a failure, when the retry gets the expected decision). Loopback only, bounded in clients, rate
// and time; it stops by itself. Exit 1 when any Check failed (an RPC error, also after its one
// retry, or a decision other than the one recorded before the load) or when the RSS of any process
// alive at the end (the primary, each worker) grew by 10% or more between the end of its own 30 s
// warm-up and the end. docs/operations.md has a result.
import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { cpSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import grpc from '@grpc/grpc-js';
import { authzProtos, CHECK_METHOD_PATH } from '../dist/grpc/protos.js';
import { makeCorpus, POLICY_DIR } from './corpus.mjs';
import { freePort, processTree, sleep } from './lib/proc.mjs';
import { createCa } from '../lab/pki.mjs';

const { values: opts } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    clients: { type: 'string', default: '16' },
    rate: { type: 'string', default: '300' }, // Checks/s over all clients: leaves the 2-core machine usable
    workers: { type: 'string', default: 'auto' }, // passed to `gatehouse serve --workers`; auto is serve's default
    // Envoy's max_requests_per_connection (docs/operations.md "Envoy: enough connections"): each
    // client replaces its connection after this many Checks, so connections re-spread over the
    // workers after a crash (about every 16 s per client at the default rate). 0: never.
    'max-requests-per-connection': { type: 'string', default: '300' },
    'keep-dir': { type: 'boolean', default: false },
    // Shorter schedules, only to shake out the harness quickly; the soak uses 30 s and 60 s.
    'reload-every-s': { type: 'string', default: '30' },
    'rotate-every-s': { type: 'string', default: '60' },
    'crash-every-s': { type: 'string', default: '120' },
    // Each process's warm-up before its RSS baseline (the pass criterion is growth after it).
    'warmup-s': { type: 'string', default: '30' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  console.log(`npm run soak -- [options]

gatehouse under steady Envoy-like load for a bounded time, while its bundle is reloaded (every
third reload a bad bundle), its TLS certificate rotated and, with workers, one worker SIGKILLed.
Prints failed Checks (must be 0), RSS per process after warm-up and at the end (growth < 10%),
p99 per minute. Exit 0 pass, 1 fail, 2 usage.

  --minutes N                       run time, 1-60 (default 10)
  --workers auto|N                  gatehouse serve --workers (default auto)
  --clients N                       client connections, 1-64 (default 16)
  --rate N                          Checks/s over all clients, 1-5000 (default 300)
  --max-requests-per-connection N   replace a client's connection after N Checks (default 300; 0 never)
  --reload-every-s S                bundle reload period (default 30)
  --rotate-every-s S                certificate rotation period (default 60)
  --crash-every-s S                 worker SIGKILL period with workers (default 120)
  --warmup-s S                      each process's warm-up before its RSS baseline (default 30)
  --keep-dir                        keep the work directory (logs, decision log)`);
  process.exit(0);
}
const MINUTES = Number(opts.minutes);
const CLIENTS = Number(opts.clients);
const RATE = Number(opts.rate);
const WORKERS = opts.workers;
const MAX_REQUESTS_PER_CONNECTION = Number(opts['max-requests-per-connection']);
if (!(MINUTES > 0 && MINUTES <= 60) || !(CLIENTS >= 1 && CLIENTS <= 64) || !(RATE >= 1 && RATE <= 5000)
  || !(WORKERS === 'auto' || (/^\d+$/.test(WORKERS) && Number(WORKERS) >= 1 && Number(WORKERS) <= 16))) {
  console.error('usage: npm run soak -- --minutes N (1–60) [--workers auto|1–16] [--clients 1–64] [--rate 1–5000 Checks/s]');
  process.exit(2);
}
const WARMUP_MS = Math.max(10, Number(opts['warmup-s'])) * 1000;
const RELOAD_EVERY_MS = Math.max(2, Number(opts['reload-every-s'])) * 1000;
const ROTATE_EVERY_MS = Math.max(5, Number(opts['rotate-every-s'])) * 1000;
const CRASH_EVERY_MS = Math.max(10, Number(opts['crash-every-s'])) * 1000;
/** No crash this close to the end: the replacement must get through its own warm-up and be measured. */
const CRASH_MIN_REMAINING_MS = 45_000;
const RSS_SAMPLE_EVERY_MS = 5_000;
// RSS swings by ±10% from one sample to the next with V8's garbage collection (the primary's most:
// it parses and writes every decision-log line), so growth compares means over windows, not single
// samples: the 20 s right after a process's warm-up against the last 20 s it was sampled.
const RSS_WINDOW_MS = 20_000;
const CALL_DEADLINE_MS = 2_000;
const ROOT = path.resolve(import.meta.dirname, '..');
const MAIN = path.join(ROOT, 'dist', 'main.js');
const log = (line) => console.log(line);

const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-soak-'));
// Never outlive the run: the hard bound is the soak plus a margin for start-up and shutdown.
const hardStop = setTimeout(() => { console.error('soak: hard time limit reached, exiting'); server?.kill('SIGKILL'); process.exit(1); }, (MINUTES * 60 + 180) * 1000);
hardStop.unref();

// --- certificates (openssl, the lab's CA) -------------------------------------------------------
const ca = createCa(dir, 'ca', 'soak.local');
let certSerial = 0;
/** A new key and certificate, written the way the README asks: key first, cert last, each renamed into place. */
function rotateCert() {
  const n = certSerial++;
  const key = path.join(dir, `tls-${n}.key.new`);
  const cert = path.join(dir, `tls-${n}.crt.new`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-CA', ca.cert, '-CAkey', ca.key, '-subj', `/CN=gatehouse soak ${n}`,
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:FALSE'], { stdio: 'ignore' });
  renameSync(key, path.join(dir, 'tls.key'));
  renameSync(cert, path.join(dir, 'tls.crt'));
  return new X509Certificate(readFileSync(path.join(dir, 'tls.crt'))).fingerprint256;
}

// --- bundles -------------------------------------------------------------------------------------
function build(policies, out, revision) {
  execFileSync(process.execPath, [MAIN, 'build', '--policies', policies, '--out', out, '--revision', revision], { stdio: ['ignore', 'ignore', 'pipe'] });
  return readFileSync(out);
}
const good = [build(POLICY_DIR, path.join(dir, 'good-a.tar.gz'), 'soak-a'), build(POLICY_DIR, path.join(dir, 'good-b.tar.gz'), 'soak-b')];
const undefinedDir = path.join(dir, 'undefined-policy');
execFileSync('mkdir', ['-p', undefinedDir]);
// Undefined for every input: the activation gate must refuse it (it errs where the active one allowed).
writeFileSync(path.join(undefinedDir, 'authz.rego'), 'package envoy.authz\n\nallow := input.attributes.no_such_field\n');
const undefinedBundle = build(undefinedDir, path.join(dir, 'undefined.tar.gz'), 'soak-undefined');
const corruptBundle = Buffer.concat([good[0].subarray(0, 64), Buffer.alloc(512, 0x41)]);
const BUNDLE = path.join(dir, 'bundle.tar.gz');
/** Replace the served bundle atomically (write beside it, rename), as a deploy step would. */
function writeBundle(bytes) {
  writeFileSync(`${BUNDLE}.tmp`, bytes);
  renameSync(`${BUNDLE}.tmp`, BUNDLE);
}
writeBundle(good[0]);

// --- the server ----------------------------------------------------------------------------------
// gatehouse runs from a copy of dist/ taken now: a cluster primary forks replacement workers from
// the files on disk, so an `npm run build` during the soak (a shared checkout) would otherwise make
// the old primary fork new worker code. node_modules is the checkout's (a symlink).
const APP = path.join(dir, 'app');
cpSync(path.join(ROOT, 'dist'), path.join(APP, 'dist'), { recursive: true });
cpSync(path.join(ROOT, 'package.json'), path.join(APP, 'package.json'));
symlinkSync(path.join(ROOT, 'node_modules'), path.join(APP, 'node_modules'), 'dir');
const SERVE_MAIN = path.join(APP, 'dist', 'main.js');
let fingerprint = rotateCert();
const port = await freePort();
const adminPort = await freePort();
const decisionLog = path.join(dir, 'decisions.log');
const serverLog = path.join(dir, 'gatehouse.log');
let server = spawn(process.execPath, [SERVE_MAIN, 'serve', '--bundle', BUNDLE, '--addr', `127.0.0.1:${port}`, '--admin-addr', `127.0.0.1:${adminPort}`,
  '--tls-cert-file', path.join(dir, 'tls.crt'), '--tls-key-file', path.join(dir, 'tls.key'), '--decision-log', decisionLog,
  '--log-level', 'info', '--shutdown-drain-ms', '0', '--workers', WORKERS], { stdio: ['ignore', openSync(serverLog, 'a'), openSync(serverLog, 'a')] });
let serverExit;
server.once('exit', (code, signal) => { serverExit = { code, signal }; });

const protos = authzProtos();
const data = JSON.parse(readFileSync(path.join(POLICY_DIR, 'data.json'), 'utf8'));
const corpus = makeCorpus(data, 2000).map((q) => protos.encodeCheckRequest(q));
const identity = (b) => b;
const caPem = readFileSync(ca.cert);
const newClient = () => new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createSsl(caPem), { 'grpc.ssl_target_name_override': 'localhost' });

/** One Check; resolves to a short signature of the decision ("ok" or "denied:<http status>"). */
function check(client, bytes) {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(CHECK_METHOD_PATH, identity, identity, bytes, { deadline: Date.now() + CALL_DEADLINE_MS }, (error, response) => {
      if (error) return reject(error);
      const r = protos.decodeCheckResponse(response);
      resolve((r.status?.code ?? 0) === 0 ? 'ok' : `denied:${r.deniedResponse?.status?.code ?? '?'}`);
    });
  });
}

const admin = async (p) => (await fetch(`http://127.0.0.1:${adminPort}${p}`)).text();
function metric(text, name, labels = '') {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && line.includes(labels) && !line.startsWith('#')) sum += Number(line.split(' ').pop());
  return sum;
}
/** VmRSS of one process in MiB, undefined once it has exited. */
function rssMb(pid) {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
  } catch {
    return undefined;
  }
}
/** The workers as the primary's /readyz lists them ({worker slot, pid, started, ready}); [] for a single process. */
async function readyWorkers() {
  try {
    const body = JSON.parse(await admin('/readyz'));
    return Array.isArray(body.workers) ? body.workers : [];
  } catch {
    return [];
  }
}

// --- wait for the first decision, then record the expected decision of every corpus request --------
const probe = newClient();
for (let t = Date.now(); ; await sleep(200)) {
  if (serverExit) throw new Error(`gatehouse exited before it was ready (${JSON.stringify(serverExit)}); see ${serverLog}`);
  try { await check(probe, corpus[0]); break; } catch (error) { if (Date.now() - t > 30_000) throw error; }
}
const expected = [];
for (const bytes of corpus) expected.push(await check(probe, bytes));
probe.close();
const allowed = expected.filter((e) => e === 'ok').length;
// Wait until every worker the primary started is serving, so the process list below is complete.
let workerList = await readyWorkers();
for (let t = Date.now(); workerList.some((w) => !w.started || !w.ready) && Date.now() - t < 30_000; await sleep(200)) workerList = await readyWorkers();
const workerCount = workerList.length; // 0: a single process (workers: 1)
log(`soak: ${MINUTES} min, workers ${WORKERS} (${workerCount > 0 ? `a primary and ${workerCount} workers` : 'one process'}), ${CLIENTS} clients, ${RATE} Checks/s, `
  + `a new connection every ${MAX_REQUESTS_PER_CONNECTION || '∞'} Checks per client, `
  + `${corpus.length} distinct requests (${allowed} allowed), gatehouse pid ${server.pid}, TLS on 127.0.0.1:${port}, work dir ${dir}`);

// --- processes and their RSS --------------------------------------------------------------------
// One record per process ever seen: the primary, and each worker pid (a replacement is a new record).
// Its warm-up ends 30 s after the load started (the processes there from the start) or 30 s after it
// was first seen (a replacement); its RSS growth is measured from that moment.
const started = Date.now();
const procs = new Map();
function track(pid, name, bornAt) {
  if (!procs.has(pid)) procs.set(pid, { pid, name, bornAt, warmAt: bornAt + WARMUP_MS, rssWarm: undefined, rssWarmPoint: undefined, rssLast: undefined, rssPeak: 0, samples: [], gone: false, killed: false });
  return procs.get(pid);
}
track(server.pid, 'primary', started);
for (const w of workerList) track(w.pid, `worker ${w.worker}`, started);
async function sampleRss() {
  const now = Date.now();
  const slots = await readyWorkers();
  for (const w of slots) if (w.pid) track(w.pid, `worker ${w.worker}`, now);
  // Any other process under the primary that /readyz did not list (there should be none).
  let tree = [];
  try { tree = processTree(server.pid); } catch { /* exited */ }
  for (const pid of tree) if (!procs.has(pid)) track(pid, `child of the primary`, now);
  for (const p of procs.values()) {
    if (p.gone) continue;
    const rss = rssMb(p.pid);
    if (rss === undefined) { p.gone = true; continue; }
    p.rssLast = rss;
    p.samples.push({ t: now, rss });
    p.rssPeak = Math.max(p.rssPeak, rss);
    if (p.rssWarmPoint === undefined && now >= p.warmAt) p.rssWarmPoint = rss;
    if (p.rssWarm === undefined && now >= p.warmAt + RSS_WINDOW_MS) {
      p.rssWarm = mean(p.samples.filter((x) => x.t >= p.warmAt && x.t < p.warmAt + RSS_WINDOW_MS));
      log(`  ${elapsed()} RSS of ${p.name} (pid ${p.pid}) after its warm-up: ${p.rssWarm.toFixed(1)} MB (mean of ${RSS_WINDOW_MS / 1000} s)`);
    }
  }
}
const mean = (samples) => samples.reduce((sum, x) => sum + x.rss, 0) / samples.length;
/** Mean RSS over the last RSS_WINDOW_MS a process was sampled. */
const rssEndMean = (p) => (p.samples.length ? mean(p.samples.filter((x) => x.t > p.samples.at(-1).t - RSS_WINDOW_MS)) : NaN);
const rssLine = () => [...procs.values()].filter((p) => !p.gone).map((p) => `${p.name} ${p.rssLast?.toFixed(1) ?? '?'}`).join(', ');

// --- load ----------------------------------------------------------------------------------------
// Like Envoy's ext_authz client: grpc-js reopens a closed connection by itself on the next Check,
// and a Check that ends UNAVAILABLE because the HTTP/2 connection under it, or the one being
// opened for it, closed or was reset ("Connection dropped", "Stream refused by server", or an
// ECONNRESET, also "No connection established. Last error: Error: read ECONNRESET", in grpc-js;
// Envoy's retry_on reset / refused-stream / connect-failure) is retried once, on a new connection
// (a new grpc-js channel: the old one would fail the retry at once while it backs off before
// reconnecting, which Envoy's connection pool does not do), with a new 2 s deadline. Nothing else is retried: a
// deadline, any other status or a wrong decision is a failed Check at once. A connection that is
// not established within a Check's 2 s deadline (grpc-js: "Waiting for LB pick"; grpc-js has no
// handshake timeout of its own) is abandoned and a new one opened, as Envoy's cluster
// connect_timeout (default 5 s, TCP and TLS handshake) would; the Checks that waited for it failed.
const NO_CONNECTION = /Waiting for LB pick/;
const RETRYABLE_DETAILS = /^Connection dropped$|^Stream refused by server$|ECONNRESET/;
const isRetryable = (error) => error?.code === grpc.status.UNAVAILABLE && RETRYABLE_DETAILS.test(error.details ?? '');
const endAt = started + MINUTES * 60_000;
let minute = { checks: 0, failed: 0, retried: 0, latencies: [] };
let minuteStarted = started;
const totals = { checks: 0, failed: 0, retried: 0, retriedOk: 0, errors: {}, retryReasons: {}, abandoned: [], connections: CLIENTS };
const perClientIntervalMs = (1000 * CLIENTS) / RATE;
let stopping = false;
/** Worker crashes: when, which worker, and which client connections had to retry right after. */
const crashes = [];

async function clientLoop(i) {
  let client = newClient();
  let onConnection = 0;
  let next = Date.now() + (i * perClientIntervalMs) / CLIENTS;
  for (let k = i * 125; !stopping; k++) {
    const wait = next - Date.now();
    if (wait > 0) await sleep(wait);
    next += perClientIntervalMs;
    if (MAX_REQUESTS_PER_CONNECTION > 0 && onConnection >= MAX_REQUESTS_PER_CONNECTION) {
      client.close(); // nothing is in flight: each client sends one Check at a time
      client = newClient();
      onConnection = 0;
      totals.connections++;
    }
    onConnection++;
    const idx = k % corpus.length;
    const t0 = performance.now();
    let outcome;
    let got;
    try {
      got = await check(client, corpus[idx]);
    } catch (error) {
      if (isRetryable(error)) {
        minute.retried++;
        totals.retried++;
        const reason = `rpc UNAVAILABLE: ${error.details}`;
        totals.retryReasons[reason] = (totals.retryReasons[reason] ?? 0) + 1;
        const crash = crashes.at(-1);
        if (crash && Date.now() - crash.at < 10_000) { crash.retries++; crash.clients.add(i); } else totals.retriedUnattributed = (totals.retriedUnattributed ?? 0) + 1;
        client.close();
        client = newClient();
        onConnection = 0;
        totals.connections++;
        try {
          got = await check(client, corpus[idx]);
          totals.retriedOk++;
        } catch (again) {
          outcome = `rpc ${grpc.status[again.code] ?? again.code}: ${again.details ?? again.message} (on the retry, after ${reason})`;
        }
      } else {
        outcome = `rpc ${grpc.status[error.code] ?? error.code}: ${error.details ?? error.message}`;
      }
    }
    if (!outcome && got !== expected[idx]) outcome = `unexpected ${got} (expected ${expected[idx]}) for request ${idx}`;
    minute.checks++;
    totals.checks++;
    if (outcome && NO_CONNECTION.test(outcome)) {
      client.close();
      client = newClient();
      onConnection = 0;
      totals.connections++;
      totals.abandoned.push(`client ${i} at ${((Date.now() - started) / 1000).toFixed(1)} s`);
      log(`  ${elapsed()} client ${i}: connection not established within 2 s, abandoned; opening a new one`);
    }
    if (outcome) {
      minute.failed++;
      totals.failed++;
      totals.errors[outcome] = (totals.errors[outcome] ?? 0) + 1;
      if (totals.failed <= 20) log(`  failed Check at ${((Date.now() - started) / 1000).toFixed(1)} s: ${outcome}`);
    } else {
      minute.latencies.push(performance.now() - t0);
    }
  }
  client.close();
}

const p99 = (values) => {
  if (values.length === 0) return NaN;
  const s = Float64Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)];
};

// --- reloads and rotations -------------------------------------------------------------------
const reloads = { written: 0, good: 0, bad: 0 };
let goodIndex = 0;
function reload() {
  reloads.written++;
  if (reloads.written % 3 === 0) {
    reloads.bad++;
    const corrupt = reloads.bad % 2 === 1;
    writeBundle(corrupt ? corruptBundle : undefinedBundle);
    log(`  ${elapsed()} reload ${reloads.written}: bad bundle (${corrupt ? 'corrupt tar' : 'policy undefined for every input'})`);
  } else {
    reloads.good++;
    goodIndex = 1 - goodIndex;
    writeBundle(good[goodIndex]);
    log(`  ${elapsed()} reload ${reloads.written}: good bundle (revision soak-${goodIndex ? 'b' : 'a'})`);
  }
}
const rotations = { done: 0, verified: 0 };
let pendingRotation = Promise.resolve();
/** A fresh TLS handshake must see the new certificate within a few reload intervals. */
async function verifyServing(want) {
  for (let i = 0; i < 40; i++) {
    const got = await new Promise((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: caPem, servername: 'localhost', ALPNProtocols: ['h2'] }, () => {
        const fp = s.getPeerX509Certificate()?.fingerprint256;
        s.destroy();
        resolve(fp);
      });
      s.once('error', () => resolve(undefined));
    });
    if (got === want) return true;
    await sleep(500);
  }
  return false;
}
async function rotate() {
  fingerprint = rotateCert();
  rotations.done++;
  const ok = await verifyServing(fingerprint);
  if (ok) rotations.verified++;
  log(`  ${elapsed()} rotation ${rotations.done}: new certificate ${ok ? 'served to new connections' : 'NOT served within 20 s'}`);
}
const elapsed = () => `[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s]`;

// --- worker crashes --------------------------------------------------------------------------
let pendingCrash = Promise.resolve();
/** SIGKILL one worker (slots in turn) when every worker is serving, then wait for its replacement. */
async function crashWorker() {
  if (endAt - Date.now() < CRASH_MIN_REMAINING_MS) return;
  const slots = await readyWorkers();
  const notServing = slots.filter((w) => !w.started || !w.ready);
  if (slots.length < 2 || notServing.length > 0) {
    log(`  ${elapsed()} worker crash skipped: ${slots.length < 2 ? 'fewer than 2 workers' : `worker ${notServing.map((w) => w.worker).join(', ')} not serving`}`);
    return;
  }
  const victim = slots[crashes.length % slots.length];
  const crash = { at: Date.now(), worker: victim.worker, pid: victim.pid, retries: 0, clients: new Set(), replacement: undefined, readyAfterS: undefined };
  crashes.push(crash);
  const proc = procs.get(victim.pid);
  if (proc) { proc.killed = true; proc.rssLast = rssMb(victim.pid) ?? proc.rssLast; }
  process.kill(victim.pid, 'SIGKILL');
  log(`  ${elapsed()} worker crash ${crashes.length}: SIGKILL worker ${victim.worker} (pid ${victim.pid})`);
  for (let t = Date.now(); Date.now() - t < 60_000; await sleep(250)) {
    const now = (await readyWorkers()).find((w) => w.worker === victim.worker);
    if (now && now.pid && now.pid !== victim.pid && now.started && now.ready) {
      crash.replacement = now.pid;
      crash.readyAfterS = (Date.now() - crash.at) / 1000;
      track(now.pid, `worker ${now.worker}`, Date.now());
      log(`  ${elapsed()} worker ${victim.worker} replaced by pid ${now.pid}, serving ${crash.readyAfterS.toFixed(1)} s after the kill`);
      return;
    }
  }
  log(`  ${elapsed()} worker ${victim.worker} NOT replaced within 60 s`);
}

const timers = [
  setInterval(reload, RELOAD_EVERY_MS),
  setInterval(() => { pendingRotation = rotate().catch((e) => log(`  rotation error: ${e.message}`)); }, ROTATE_EVERY_MS),
  setInterval(() => { sampleRss().catch((e) => log(`  RSS sample error: ${e.message}`)); }, RSS_SAMPLE_EVERY_MS),
  setInterval(() => {
    const m = minute;
    minute = { checks: 0, failed: 0, retried: 0, latencies: [] };
    minuteStarted = Date.now();
    log(`minute ${Math.round((Date.now() - started) / 60_000)}: ${m.checks} Checks, ${m.failed} failed, ${m.retried} retried, p99 ${p99(m.latencies).toFixed(2)} ms, RSS MB: ${rssLine()}`);
  }, 60_000),
];
if (workerCount > 1) timers.push(setInterval(() => { pendingCrash = crashWorker().catch((e) => log(`  crash error: ${e.message}`)); }, CRASH_EVERY_MS));

const loops = Array.from({ length: CLIENTS }, (_, i) => clientLoop(i));
await sleep(Math.max(0, endAt - Date.now()));
stopping = true;
for (const t of timers) clearInterval(t);
await Promise.all(loops);
await pendingRotation;
await pendingCrash;
await sleep(2000); // a reload written just before the end: past the debounce and the activation gate
if (minute.checks > 0) log(`minute ${Math.floor((minuteStarted - started) / 60_000) + 1} (last ${((Date.now() - minuteStarted) / 1000).toFixed(0)} s): ${minute.checks} Checks, ${minute.failed} failed, ${minute.retried} retried, p99 ${p99(minute.latencies).toFixed(2)} ms`);

// --- result --------------------------------------------------------------------------------------
await sampleRss();
const metrics = await admin('/metrics');
const serverReloads = {
  loaded: metric(metrics, 'gatehouse_policy_reloads_total', 'result="loaded"'),
  failed: metric(metrics, 'gatehouse_policy_reloads_total', 'result="failed"'),
  unchanged: metric(metrics, 'gatehouse_policy_reloads_total', 'result="unchanged"'),
};
const tlsReloads = { loaded: metric(metrics, 'gatehouse_tls_reloads_total', 'result="loaded"'), failed: metric(metrics, 'gatehouse_tls_reloads_total', 'result="failed"') };
const logLines = { written: metric(metrics, 'gatehouse_decision_log_lines_total', 'result="written"'), dropped: metric(metrics, 'gatehouse_decision_log_lines_total', 'result="dropped"') };
const workerRestarts = metric(metrics, 'gatehouse_worker_restarts_total');
const revision = /gatehouse_policy_info\{[^}]*revision="([^"]*)"/.exec(metrics)?.[1];
server.kill('SIGTERM');
for (let i = 0; i < 100 && !serverExit; i++) await sleep(100);
if (!serverExit) server.kill('SIGKILL');

const problems = [];
if (totals.failed > 0) problems.push(`${totals.failed} failed Checks`);
if (serverExit && serverExit.signal !== 'SIGTERM' && serverExit.code !== 0) problems.push(`gatehouse exited ${JSON.stringify(serverExit)}`);
log('');
log(`total: ${totals.checks} Checks in ${((Date.now() - started) / 60_000).toFixed(1)} min, failed Checks: ${totals.failed}; retried once after their connection closed: ${totals.retried} (${totals.retriedOk} succeeded on the retry)`);
for (const [what, n] of Object.entries(totals.errors)) log(`  ${n} × failed: ${what}`);
for (const [what, n] of Object.entries(totals.retryReasons)) log(`  ${n} × retried: ${what}`);
log(`connections opened by the clients: ${totals.connections}`);
if (totals.abandoned.length) log(`  connections abandoned (not established within 2 s): ${totals.abandoned.length}: ${totals.abandoned.join(', ')}`);
if (totals.retriedUnattributed) log(`  ${totals.retriedUnattributed} retries not within 10 s of a worker crash`);
if (workerCount > 1) {
  log(`worker crashes: ${crashes.length} (SIGKILL); gatehouse counted ${workerRestarts} worker restarts`);
  for (const [n, c] of crashes.entries()) {
    log(`  crash ${n + 1} at ${((c.at - started) / 1000).toFixed(0)} s: worker ${c.worker} pid ${c.pid}; ${c.replacement ? `replacement pid ${c.replacement} serving after ${c.readyAfterS.toFixed(1)} s` : 'NOT replaced'}; `
      + `${c.retries} Checks retried on ${c.clients.size} of ${CLIENTS} client connections`);
    if (!c.replacement) problems.push(`worker ${c.worker} was not replaced after crash ${n + 1}`);
  }
}
log(`RSS per process (MB; growth = mean of the last ${RSS_WINDOW_MS / 1000} s against the mean of the ${RSS_WINDOW_MS / 1000} s after the process's own ${WARMUP_MS / 1000} s warm-up; `
  + `samples every ${RSS_SAMPLE_EVERY_MS / 1000} s; a killed worker's figures end at its last sample before the kill and are shown, not judged):`);
for (const p of procs.values()) {
  const rssEnd = rssEndMean(p);
  const growth = ((rssEnd - p.rssWarm) / p.rssWarm) * 100;
  const judged = !p.killed && !p.gone;
  log(`  ${p.name.padEnd(9)} pid ${String(p.pid).padEnd(7)} from ${((p.bornAt - started) / 1000).toFixed(0).padStart(3)} s: after warm-up ${p.rssWarm?.toFixed(1) ?? '–'}, `
    + `${p.killed ? 'before the kill' : p.gone ? 'last seen' : 'at the end'} ${Number.isFinite(rssEnd) ? rssEnd.toFixed(1) : '–'} `
    + `(single samples: ${p.rssWarmPoint?.toFixed(1) ?? '–'} → ${p.rssLast?.toFixed(1) ?? '–'}), peak ${p.rssPeak.toFixed(1)}, growth ${Number.isFinite(growth) ? `${growth.toFixed(1)}%` : '–'}${judged ? '' : ' (not judged)'}`);
  if (judged && !(growth < 10)) problems.push(`RSS of ${p.name} (pid ${p.pid}) grew ${Number.isFinite(growth) ? `${growth.toFixed(1)}%` : 'by an unknown amount (no warm-up sample)'} (limit 10%)`);
  if (p.gone && !p.killed) problems.push(`${p.name} (pid ${p.pid}) exited without being killed by the soak`);
}
log(`bundle reloads: ${reloads.written} written (${reloads.good} good, ${reloads.bad} bad); gatehouse counted ${serverReloads.loaded} loaded (incl. the first), ${serverReloads.failed} failed, ${serverReloads.unchanged} unchanged; serving revision ${revision}`);
log(`certificate rotations: ${rotations.done} (${rotations.verified} seen on a new connection); gatehouse counted TLS reloads ${tlsReloads.loaded} loaded, ${tlsReloads.failed} failed`);
log(`decision log: ${logLines.written} lines written, ${logLines.dropped} dropped, ${(statSync(decisionLog).size / 2 ** 20).toFixed(0)} MiB`);
log(problems.length ? `FAIL: ${problems.join('; ')}` : `PASS: no failed Checks, RSS growth under 10% for every process${workerCount > 1 ? ', every killed worker replaced' : ''}`);
if (!opts['keep-dir'] && problems.length === 0) rmSync(dir, { recursive: true, force: true });
else log(`kept ${dir} (gatehouse.log, decisions.log)`);
process.exit(problems.length ? 1 : 0);
