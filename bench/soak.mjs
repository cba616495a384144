#!/usr/bin/env node
// npm run soak -- --minutes N [--clients 16] [--rate 300]
//
// Issue 14 part 5: gatehouse under steady load while its bundle is reloaded every 30 s (every
// third reload a bad bundle the server must refuse) and its TLS certificate is rotated every 60 s.
// Loopback only, bounded in clients, rate and time; it stops by itself. Exit 1 when any Check
// failed (an RPC error or a decision other than the one recorded before the load) or when RSS grew
// by 10% or more between the end of a 30 s warm-up and the end. docs/operations.md has a result.
import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import grpc from '@grpc/grpc-js';
import { authzProtos, CHECK_METHOD_PATH } from '../dist/grpc/protos.js';
import { makeCorpus, POLICY_DIR } from './corpus.mjs';
import { freePort, sleep } from './lib/proc.mjs';
import { createCa } from '../lab/pki.mjs';

const { values: opts } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    clients: { type: 'string', default: '16' },
    rate: { type: 'string', default: '300' }, // Checks/s over all clients: leaves the 2-core machine usable
    'keep-dir': { type: 'boolean', default: false },
    // Shorter schedules, only to shake out the harness quickly; the soak uses 30 s and 60 s.
    'reload-every-s': { type: 'string', default: '30' },
    'rotate-every-s': { type: 'string', default: '60' },
  },
});
const MINUTES = Number(opts.minutes);
const CLIENTS = Number(opts.clients);
const RATE = Number(opts.rate);
if (!(MINUTES > 0 && MINUTES <= 60) || !(CLIENTS >= 1 && CLIENTS <= 64) || !(RATE >= 1 && RATE <= 5000)) {
  console.error('usage: npm run soak -- --minutes N (1–60) [--clients 1–64] [--rate 1–5000 Checks/s]');
  process.exit(2);
}
const WARMUP_MS = 30_000;
const RELOAD_EVERY_MS = Math.max(2, Number(opts['reload-every-s'])) * 1000;
const ROTATE_EVERY_MS = Math.max(5, Number(opts['rotate-every-s'])) * 1000;
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
let fingerprint = rotateCert();
const port = await freePort();
const adminPort = await freePort();
const decisionLog = path.join(dir, 'decisions.log');
const serverLog = path.join(dir, 'gatehouse.log');
let server = spawn(process.execPath, [MAIN, 'serve', '--bundle', BUNDLE, '--addr', `127.0.0.1:${port}`, '--admin-addr', `127.0.0.1:${adminPort}`,
  '--tls-cert-file', path.join(dir, 'tls.crt'), '--tls-key-file', path.join(dir, 'tls.key'), '--decision-log', decisionLog,
  '--log-level', 'info', '--shutdown-drain-ms', '0'], { stdio: ['ignore', openSync(serverLog, 'a'), openSync(serverLog, 'a')] });
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
const rssMb = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]) / 1024;

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
log(`soak: ${MINUTES} min, ${CLIENTS} clients, ${RATE} Checks/s, ${corpus.length} distinct requests (${allowed} allowed), gatehouse pid ${server.pid}, TLS on 127.0.0.1:${port}, work dir ${dir}`);

// --- load ----------------------------------------------------------------------------------------
const started = Date.now();
const endAt = started + MINUTES * 60_000;
let minute = { checks: 0, failed: 0, latencies: [] };
let minuteStarted = started;
const totals = { checks: 0, failed: 0, errors: {} };
const perClientIntervalMs = (1000 * CLIENTS) / RATE;
let stopping = false;

async function clientLoop(i) {
  const client = newClient();
  let next = Date.now() + (i * perClientIntervalMs) / CLIENTS;
  for (let k = i * 125; !stopping; k++) {
    const wait = next - Date.now();
    if (wait > 0) await sleep(wait);
    next += perClientIntervalMs;
    const idx = k % corpus.length;
    const t0 = performance.now();
    let outcome;
    try {
      const got = await check(client, corpus[idx]);
      outcome = got === expected[idx] ? undefined : `unexpected ${got} (expected ${expected[idx]}) for request ${idx}`;
    } catch (error) {
      outcome = `rpc ${grpc.status[error.code] ?? error.code}: ${error.details ?? error.message}`;
    }
    minute.checks++;
    totals.checks++;
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

const timers = [
  setInterval(reload, RELOAD_EVERY_MS),
  setInterval(() => { pendingRotation = rotate().catch((e) => log(`  rotation error: ${e.message}`)); }, ROTATE_EVERY_MS),
  setInterval(() => {
    const m = minute;
    minute = { checks: 0, failed: 0, latencies: [] };
    minuteStarted = Date.now();
    log(`minute ${Math.round((Date.now() - started) / 60_000)}: ${m.checks} Checks, ${m.failed} failed, p99 ${p99(m.latencies).toFixed(2)} ms, RSS ${rssMb().toFixed(1)} MB`);
  }, 60_000),
];
let rssStart;
const warm = setTimeout(() => { rssStart = rssMb(); log(`  ${elapsed()} RSS after warm-up: ${rssStart.toFixed(1)} MB`); }, WARMUP_MS);

const loops = Array.from({ length: CLIENTS }, (_, i) => clientLoop(i));
await sleep(Math.max(0, endAt - Date.now()));
stopping = true;
for (const t of timers) clearInterval(t);
clearTimeout(warm);
await Promise.all(loops);
await pendingRotation;
await sleep(2000); // a reload written just before the end: past the debounce and the activation gate
if (minute.checks > 0) log(`minute ${Math.floor((minuteStarted - started) / 60_000) + 1} (last ${((Date.now() - minuteStarted) / 1000).toFixed(0)} s): ${minute.checks} Checks, ${minute.failed} failed, p99 ${p99(minute.latencies).toFixed(2)} ms`);

// --- result --------------------------------------------------------------------------------------
const rssEnd = rssMb();
const metrics = await admin('/metrics');
const serverReloads = {
  loaded: metric(metrics, 'gatehouse_policy_reloads_total', 'result="loaded"'),
  failed: metric(metrics, 'gatehouse_policy_reloads_total', 'result="failed"'),
  unchanged: metric(metrics, 'gatehouse_policy_reloads_total', 'result="unchanged"'),
};
const tlsReloads = { loaded: metric(metrics, 'gatehouse_tls_reloads_total', 'result="loaded"'), failed: metric(metrics, 'gatehouse_tls_reloads_total', 'result="failed"') };
const logLines = { written: metric(metrics, 'gatehouse_decision_log_lines_total', 'result="written"'), dropped: metric(metrics, 'gatehouse_decision_log_lines_total', 'result="dropped"') };
const revision = /gatehouse_policy_info\{[^}]*revision="([^"]*)"/.exec(metrics)?.[1];
server.kill('SIGTERM');
for (let i = 0; i < 100 && !serverExit; i++) await sleep(100);
if (!serverExit) server.kill('SIGKILL');

rssStart ??= NaN;
const growth = ((rssEnd - rssStart) / rssStart) * 100;
const problems = [];
if (totals.failed > 0) problems.push(`${totals.failed} failed Checks`);
if (!(growth < 10)) problems.push(`RSS grew ${growth.toFixed(1)}% (limit 10%)`);
if (serverExit && serverExit.signal !== 'SIGTERM' && serverExit.code !== 0) problems.push(`gatehouse exited ${JSON.stringify(serverExit)}`);
log('');
log(`total: ${totals.checks} Checks in ${((Date.now() - started) / 60_000).toFixed(1)} min, failed Checks: ${totals.failed}`);
for (const [what, n] of Object.entries(totals.errors)) log(`  ${n} × ${what}`);
log(`RSS: ${rssStart.toFixed(1)} MB after the ${WARMUP_MS / 1000} s warm-up, ${rssEnd.toFixed(1)} MB at the end, growth ${growth.toFixed(1)}%`);
log(`bundle reloads: ${reloads.written} written (${reloads.good} good, ${reloads.bad} bad); gatehouse counted ${serverReloads.loaded} loaded (incl. the first), ${serverReloads.failed} failed, ${serverReloads.unchanged} unchanged; serving revision ${revision}`);
log(`certificate rotations: ${rotations.done} (${rotations.verified} seen on a new connection); gatehouse counted TLS reloads ${tlsReloads.loaded} loaded, ${tlsReloads.failed} failed`);
log(`decision log: ${logLines.written} lines written, ${logLines.dropped} dropped, ${(statSync(decisionLog).size / 2 ** 20).toFixed(0)} MiB`);
log(problems.length ? `FAIL: ${problems.join('; ')}` : 'PASS: no failed Checks, RSS growth under 10%');
if (!opts['keep-dir'] && problems.length === 0) rmSync(dir, { recursive: true, force: true });
else log(`kept ${dir} (gatehouse.log, decisions.log)`);
process.exit(problems.length ? 1 : 0);
