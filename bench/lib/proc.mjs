// Processes for the benchmark: pinned with taskset, measured from /proc, always stopped.
import { spawn } from 'node:child_process';
import { openSync, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';

const CLK_TCK = 100; // Linux USER_HZ; /proc times are in these ticks

/** CPU seconds (user + system, all threads) the process has used. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14, 15)
}

/** The process and all its descendants (gatehouse's cluster workers), from /proc/<pid>/stat ppid fields. */
export function processTree(pid) {
  const parent = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* exited */ }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [child, ppid] of parent) if (ppid === tree[i]) tree.push(child);
  return tree;
}

/** CPU seconds used by the process and its live descendants together. */
export function treeCpuSeconds(pid) {
  let total = 0;
  for (const p of processTree(pid)) { try { total += cpuSeconds(p); } catch { /* exited */ } }
  return total;
}

/** Peak RSS (VmHWM) in MB of each process in the tree: `max` is the largest one process reached (a worker), `sum` all together. */
export function treePeakRssMb(pid) {
  const each = [];
  for (const p of processTree(pid)) { try { const v = peakRssMb(p); if (v !== undefined) each.push(v); } catch { /* exited */ } }
  return { max: each.length ? Math.max(...each) : undefined, sum: each.reduce((a, b) => a + b, 0), processes: each.length };
}

/** Peak resident set size in MB (VmHWM). */
export function peakRssMb(pid) {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : undefined;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Start `cmd args` pinned to `cpus` (a taskset list like "0" or "0,1"); stderr/stdout to a log file. */
export function startPinned(cpus, cmd, args, { logFile, env, decisionLog } = {}) {
  const out = logFile ? openSync(logFile, 'a') : 'ignore';
  const child = spawn('taskset', ['-c', cpus, cmd, ...args], { stdio: ['ignore', out, out], env: { ...process.env, ...env } });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    pid: child.pid,
    child,
    /** The file this server writes its decision log to, when it writes one. */
    decisionLog,
    exited,
    /** SIGTERM, then SIGKILL after `graceMs`. */
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function loadAverage() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
}

/** Seconds the threads of the process and its descendants spent runnable but waiting for a CPU (/proc/<pid>/task/<tid>/schedstat, field 2). */
export function runqueueWaitSeconds(pid) {
  let ns = 0;
  for (const p of processTree(pid)) {
    let tids = [];
    try { tids = readdirSync(`/proc/${p}/task`); } catch { /* exited */ }
    for (const tid of tids) {
      try { ns += Number(readFileSync(`/proc/${p}/task/${tid}/schedstat`, 'utf8').split(' ')[1]); } catch { /* thread exited */ }
    }
  }
  return ns / 1e9;
}

/** Busy CPU seconds of the whole machine (all CPUs, every process), from /proc/stat. */
export function machineBusySeconds() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / CLK_TCK;
}

/** Logical CPUs on the machine (not this process's affinity). */
export function cpuCount() {
  return (readFileSync('/proc/cpuinfo', 'utf8').match(/^processor\s*:/gm) ?? []).length;
}
