/**
 * `workers: auto`: the CPUs this process may use. os.availableParallelism() honours the CPU
 * affinity mask (taskset, cpuset); a CFS bandwidth limit (Kubernetes `resources.limits.cpu`, docker
 * `--cpus`) is not part of it and is read from the cgroup: v2 `cpu.max` ("<quota> <period>" or
 * "max <period>"), v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us` (-1: no limit). A fractional quota
 * rounds up (1.5 CPUs: 2 workers); the result is at least 1.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The number of worker processes `workers` asks for (a validated 'auto' or '1'..'256'). */
export function resolveWorkers(setting: string, probe: CpuProbe = systemProbe): number {
  if (setting !== 'auto') return Number(setting);
  const quota = cgroupCpuQuota(probe);
  const cpus = probe.availableParallelism();
  return Math.max(1, quota === undefined ? cpus : Math.min(cpus, Math.ceil(quota)));
}

/** What resolveWorkers reads from the system; tests pass their own. */
export interface CpuProbe {
  availableParallelism(): number;
  /** A file's text, or undefined when it cannot be read. */
  read(file: string): string | undefined;
}

const systemProbe: CpuProbe = {
  availableParallelism: () => os.availableParallelism(),
  read: (file) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  },
};

/**
 * The tightest CPU quota (in CPUs, fractional) on this process's cgroup or any ancestor, or
 * undefined when there is none. /proc/self/cgroup names the cgroup ("0::/path" on v2,
 * "N:cpu,cpuacct:/path" on v1); inside a container's cgroup namespace that path is "/".
 */
export function cgroupCpuQuota(probe: CpuProbe, root = '/sys/fs/cgroup'): number | undefined {
  const membership = probe.read('/proc/self/cgroup') ?? '';
  let best: number | undefined;
  const consider = (quota: number | undefined) => {
    if (quota !== undefined && quota > 0 && (best === undefined || quota < best)) best = quota;
  };
  const v2 = /^0::(.*)$/m.exec(membership)?.[1];
  for (const dir of ancestors(root, v2 ?? '/')) consider(parseCpuMax(probe.read(path.join(dir, 'cpu.max'))));
  const v1 = /^\d+:[^:]*\bcpu\b[^:]*:(.*)$/m.exec(membership)?.[1];
  for (const base of [path.join(root, 'cpu,cpuacct'), path.join(root, 'cpu')]) {
    for (const dir of ancestors(base, v1 ?? '/')) {
      const quotaUs = Number(probe.read(path.join(dir, 'cpu.cfs_quota_us')));
      const periodUs = Number(probe.read(path.join(dir, 'cpu.cfs_period_us')));
      if (quotaUs > 0 && periodUs > 0) consider(quotaUs / periodUs);
    }
  }
  return best;
}

/** v2 cpu.max: "max 100000" (no limit) or "150000 100000" (1.5 CPUs). */
export function parseCpuMax(text: string | undefined): number | undefined {
  const [quota, period] = (text ?? '').trim().split(/\s+/);
  const q = Number(quota);
  const p = Number(period);
  return quota !== 'max' && q > 0 && p > 0 ? q / p : undefined;
}

/** `root` joined with `cgroupPath` and each of its parents, down to `root` itself. */
function ancestors(root: string, cgroupPath: string): string[] {
  const dirs: string[] = [];
  let current = path.posix.normalize(`/${cgroupPath}`);
  for (;;) {
    dirs.push(path.join(root, current));
    if (current === '/') return dirs;
    current = path.posix.dirname(current);
  }
}
