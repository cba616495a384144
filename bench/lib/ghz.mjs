// One ghz run against a server, with ghz's own CPU use measured, so a run where the load
// generator (not the server) was the bottleneck can be recognised and refused.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { cpuSeconds, runqueueWaitSeconds, startPinned } from './proc.mjs';
import { ROOT } from './tools.mjs';

const DEPS = path.join(ROOT, 'node_modules', '@grpc', 'grpc-js-xds', 'deps');
const IMPORT_PATHS = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(DEPS, d)).join(',');

/**
 * @param {object} o
 * @param {string} o.ghz binary
 * @param {number} o.port server port on 127.0.0.1
 * @param {string} o.corpus varint-delimited CheckRequests (ghz cycles through them)
 * @param {string} o.cpus taskset list for ghz
 * @param {number} [o.rate] fixed rate (calls/s); absent = as fast as possible (saturation)
 * @param {number} o.seconds how long
 * @param {number} [o.concurrency]
 * @param {string} o.outFile JSON report path
 * @param {(pid: number) => void} [o.onStart]
 */
export async function runGhz(o) {
  const args = [
    '--insecure', '--proto', 'envoy/service/auth/v3/external_auth.proto', '-i', IMPORT_PATHS,
    '--call', 'envoy.service.auth.v3.Authorization.Check', '--binary-file', o.corpus,
    '--cpus', String(o.ghzCpus ?? 1), '--connections', String(o.connections ?? 1), '-c', String(o.concurrency ?? 50),
    '--timeout', '5s', '--duration-stop', 'wait', '-O', 'json', '-o', o.outFile,
  ];
  // Fixed rate for a fixed time (not a fixed count): a server slower than the rate then shows as
  // an achieved rate below it, instead of stretching the run past its time bound.
  if (o.rate) args.push('-r', String(o.rate), '-z', `${o.seconds}s`);
  else args.push('-z', `${o.seconds}s`);
  args.push(`127.0.0.1:${o.port}`);
  rmSync(o.outFile, { force: true });
  const proc = startPinned(o.cpus, o.ghz, args, { logFile: `${o.outFile}.log` });
  const started = Date.now();
  let cpu = 0;
  let wait = 0;
  // ghz's CPU use and its time waiting for a CPU (other processes on a shared machine can starve it).
  const sampler = setInterval(() => { try { cpu = cpuSeconds(proc.pid); wait = runqueueWaitSeconds(proc.pid); } catch { /* exited */ } }, 100);
  o.onStart?.(proc.pid);
  // Hard bound: the run's length plus a margin; ghz is killed if it hangs.
  const killer = setTimeout(() => proc.stop(1000), (o.seconds + 30) * 1000);
  const { code } = await proc.exited;
  clearInterval(sampler);
  clearTimeout(killer);
  const wall = (Date.now() - started) / 1000;
  if (code !== 0) throw new Error(`ghz exited with ${code}; see ${o.outFile}.log`);
  const report = JSON.parse(readFileSync(o.outFile, 'utf8'));
  return summarise(report, { ghzCpuSeconds: cpu, ghzWaitSeconds: wait, ghzWallSeconds: wall });
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function summarise(report, ghz) {
  const details = report.details ?? [];
  const latencies = [];
  const statuses = {};
  let errors = 0;
  for (const d of details) {
    statuses[d.status] = (statuses[d.status] ?? 0) + 1;
    if (d.error || d.status !== 'OK') errors++;
    else latencies.push(d.latency / 1e6); // ns → ms
  }
  latencies.sort((a, b) => a - b);
  const ms = (p) => Number(percentile(latencies, p).toFixed(3));
  return {
    count: report.count,
    seconds: report.total / 1e9,
    rps: report.rps,
    errors,
    statuses,
    errorDistribution: report.errorDistribution ?? {},
    p50: ms(50), p90: ms(90), p99: ms(99), p999: ms(99.9),
    ghzCpuFraction: ghz.ghzCpuSeconds / ghz.ghzWallSeconds,
    /** Fraction of the run ghz's threads spent runnable but waiting for a CPU (summed over threads). */
    ghzWaitFraction: ghz.ghzWaitSeconds / ghz.ghzWallSeconds,
  };
}
