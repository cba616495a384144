#!/usr/bin/env node
// Peak RSS (VmHWM) and CPU per Check of one `gatehouse serve --workers 1` process under saturation
// (ghz as fast as it goes, 50 in flight on one connection, the bench corpus, cache off so every
// Check evaluates on the evaluation thread, decision log to a file), for each variant in the same
// invocation. Server on CPU 0, ghz on CPU 1 (a 2-core machine).
//   node bench/peak-rss.mjs [--seconds 10] [--variant label=distRoot[,node flags]]...
// Default variants: this checkout's dist/. CPU per Check: utime+stime from /proc/<pid>/stat over the
// saturation phase, divided by the Checks ghz completed. VmHWM covers start-up, a warm-up run and
// the saturation run; threads: the process's thread count at the end.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { writeCorpus } from './corpus.mjs';
import { runGhz } from './lib/ghz.mjs';
import { freePort, sleep, startPinned } from './lib/proc.mjs';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, variant: { type: 'string', multiple: true }, cache: { type: 'string', default: 'off' } } });
const root = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'gatehouse-peak-rss-'));
const corpus = writeCorpus(work, 2000);
const bundle = path.join(work, 'bench.tar.gz');
execFileSync(process.execPath, [path.join(root, 'dist/main.js'), 'build', '--policies', path.join(root, 'bench/policy'), '--out', bundle], { stdio: 'ignore' });
const ghz = path.join(root, 'bench/.tools/bin/ghz');
const variants = (values.variant ?? [`current=${path.join(root, 'dist')}`]).map((v) => {
  const label = v.slice(0, v.indexOf('='));
  const rest = v.slice(v.indexOf('=') + 1);
  const [dist, ...nodeArgs] = rest.split(',');
  return { label, dist, nodeArgs };
});

const status = (pid, key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
const cpuTicks = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
};
const HZ = 100;

for (const variant of variants) {
  const port = await freePort();
  const adminPort = await freePort();
  const log = path.join(work, `decisions-${variant.label}.jsonl`);
  const proc = startPinned('0', process.execPath, [
    ...variant.nodeArgs, path.join(variant.dist, 'main.js'), 'serve', '--bundle', bundle, '--addr', `127.0.0.1:${port}`, '--admin-addr', `127.0.0.1:${adminPort}`,
    '--decision-log', log, '--decision-cache', values.cache, '--watch', 'false', '--log-level', 'warn', '--shutdown-drain-ms', '0', '--workers', '1',
  ], { logFile: path.join(work, `server-${variant.label}.log`) });
  try {
    for (let i = 0; i < 100; i++) {
      try {
        const res = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
        if (res.ok) break;
      } catch { /* not yet */ }
      await sleep(200);
    }
    if (proc.child.exitCode !== null) throw new Error(`the ${variant.label} server exited; see ${work}/server-${variant.label}.log`);
    const startHwm = status(proc.pid, 'VmHWM');
    await runGhz({ ghz, port, corpus: corpus.file, cpus: '1', seconds: 3, outFile: path.join(work, 'warm.json') });
    const ticks0 = cpuTicks(proc.pid);
    const sat = await runGhz({ ghz, port, corpus: corpus.file, cpus: '1', seconds: Number(values.seconds), outFile: path.join(work, 'sat.json') });
    const cpuUs = ((cpuTicks(proc.pid) - ticks0) / HZ / sat.count) * 1e6;
    console.log(JSON.stringify({
      variant: variant.label, nodeArgs: variant.nodeArgs.join(' '), rps: Math.round(sat.rps), checks: sat.count, errors: sat.errors,
      cpuUsPerCheck: Number(cpuUs.toFixed(1)), vmHwmMiB: Number((status(proc.pid, 'VmHWM') / 1024).toFixed(1)), startHwmMiB: Number((startHwm / 1024).toFixed(1)),
      vmRssMiB: Number((status(proc.pid, 'VmRSS') / 1024).toFixed(1)), threads: status(proc.pid, 'Threads'),
    }));
  } finally {
    await proc.stop(3000);
  }
}
