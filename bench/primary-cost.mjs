#!/usr/bin/env node
// What the cluster primary costs per Check: `gatehouse serve --workers 2` at a fixed rate (ghz,
// so the primary's share does not depend on how fast the machine is), once with the decision log
// to a file and once with it off, in one invocation. The primary answers no Check; it hands each
// connection to a worker and writes every worker's decision-log lines (they cross the IPC channel
// in whole-line batches). Prints CPU µs per Check of the primary and of the workers, and the
// primary's share of the server's CPU; the difference between the two runs is the decision-log
// relay. Bounded: two runs of --seconds each (default 10) at --rate Checks/s (default 2000).
//   node bench/primary-cost.mjs [--seconds 10] [--rate 2000] [--connections 4]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeCorpus } from './corpus.mjs';
import { runGhz } from './lib/ghz.mjs';
import { cpuSeconds, freePort, processTree, sleep, startPinned } from './lib/proc.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string', default: '2000' },
    connections: { type: 'string', default: '4' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('node bench/primary-cost.mjs [--seconds 10] [--rate 2000] [--connections 4]\n\nCPU per Check of the cluster primary and its 2 workers, decision log to a file vs off.');
  process.exit(0);
}
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
const CONNECTIONS = Number(values.connections);
if (!(SECONDS >= 2 && SECONDS <= 120) || !(RATE >= 100 && RATE <= 50_000) || !(CONNECTIONS >= 1 && CONNECTIONS <= 64)) {
  console.error('usage: node bench/primary-cost.mjs [--seconds 2-120] [--rate 100-50000] [--connections 1-64]');
  process.exit(2);
}
const root = path.resolve(import.meta.dirname, '..');
const ghz = path.join(root, 'bench/.tools/bin/ghz');
const work = mkdtempSync(path.join(tmpdir(), 'gatehouse-primary-cost-'));
const corpus = writeCorpus(work, 2000).file;
const bundle = path.join(work, 'bench.tar.gz');
execFileSync(process.execPath, [path.join(root, 'dist/main.js'), 'build', '--policies', path.join(root, 'bench/policy'), '--out', bundle], { stdio: 'ignore' });

const results = [];
for (const log of ['file', 'off']) {
  const port = await freePort();
  const adminPort = await freePort();
  const decisionLog = log === 'file' ? path.join(work, 'decisions.log') : 'off';
  const server = startPinned('0-255', process.execPath, [path.join(root, 'dist/main.js'), 'serve', '--bundle', bundle, '--addr', `127.0.0.1:${port}`, '--admin-addr', `127.0.0.1:${adminPort}`, '--workers', '2', '--decision-log', decisionLog, '--decision-cache', 'off', '--watch', 'false'], { logFile: path.join(work, `serve-${log}.log`) });
  let primaryCpu, workersCpu, ghzResult;
  try {
    // Started when both workers exist and the port answers a warm-up run.
    for (let i = 0; i < 100 && processTree(server.pid).length < 3; i++) await sleep(100);
    await sleep(1500);
    await runGhz({ ghz, port, corpus, cpus: '0-255', rate: RATE, seconds: 2, connections: CONNECTIONS, concurrency: 16, outFile: path.join(work, `warm-${log}.json`) });
    const [primary, ...workers] = processTree(server.pid);
    const before = { primary: cpuSeconds(primary), workers: workers.map(cpuSeconds) };
    ghzResult = await runGhz({ ghz, port, corpus, cpus: '0-255', rate: RATE, seconds: SECONDS, connections: CONNECTIONS, concurrency: 16, outFile: path.join(work, `run-${log}.json`) });
    primaryCpu = cpuSeconds(primary) - before.primary;
    workersCpu = workers.reduce((sum, pid, i) => sum + cpuSeconds(pid) - before.workers[i], 0);
  } finally {
    await server.stop();
  }
  const checks = ghzResult.count ?? ghzResult.report?.count;
  results.push({ log, checks, primaryUs: (primaryCpu / checks) * 1e6, workersUs: (workersCpu / checks) * 1e6, share: primaryCpu / (primaryCpu + workersCpu), logBytes: log === 'file' ? statSync(decisionLog).size : 0 });
}

console.log(`serve --workers 2, ${RATE} Checks/s for ${SECONDS} s over ${CONNECTIONS} connections (cache off)`);
console.log('| decision log | Checks | primary CPU µs/Check | workers CPU µs/Check | primary share of server CPU | log bytes/Check |');
console.log('|---|---|---|---|---|---|');
for (const r of results) console.log(`| ${r.log} | ${r.checks} | ${r.primaryUs.toFixed(1)} | ${r.workersUs.toFixed(1)} | ${(r.share * 100).toFixed(1)}% | ${r.checks ? Math.round(r.logBytes / r.checks) : 0} |`);
const [file, off] = results;
console.log(`decision-log relay in the primary: ${(file.primaryUs - off.primaryUs).toFixed(1)} µs of CPU per Check (line)`);
