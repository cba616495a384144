import { describe, expect, it } from 'vitest';
import { cgroupCpuQuota, parseCpuMax, resolveWorkers, type CpuProbe } from '../../src/cluster/worker-count.js';
import { restartDelayMs } from '../../src/cluster/worker-pool.js';

function probe(cpus: number, files: Record<string, string>): CpuProbe {
  return { availableParallelism: () => cpus, read: (file) => files[file] };
}

describe('workers: auto', () => {
  it('is the CPUs the affinity mask allows when no cgroup quota is set', () => {
    expect(resolveWorkers('auto', probe(8, { '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': 'max 100000\n' }))).toBe(8);
  });

  it('is capped by a cgroup v2 quota, rounded up, on the process cgroup or an ancestor', () => {
    const files = {
      '/proc/self/cgroup': '0::/kubepods/pod1/c1\n',
      '/sys/fs/cgroup/kubepods/pod1/c1/cpu.max': 'max 100000\n',
      '/sys/fs/cgroup/kubepods/pod1/cpu.max': '150000 100000\n',
      '/sys/fs/cgroup/kubepods/cpu.max': '400000 100000\n',
    };
    expect(cgroupCpuQuota(probe(8, files))).toBe(1.5);
    expect(resolveWorkers('auto', probe(8, files))).toBe(2);
    // The affinity mask can be tighter than the quota.
    expect(resolveWorkers('auto', probe(1, files))).toBe(1);
  });

  it('reads a cgroup v1 CFS quota; -1 means none', () => {
    const files = {
      '/proc/self/cgroup': '4:memory:/x\n3:cpu,cpuacct:/docker/abc\n0::/\n',
      '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '300000\n',
      '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    };
    expect(resolveWorkers('auto', probe(16, files))).toBe(3);
  });

  it('is at least 1, and a number is taken as given', () => {
    expect(resolveWorkers('auto', probe(4, { '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '10000 100000' }))).toBe(1);
    expect(resolveWorkers('3', probe(1, {}))).toBe(3);
    expect(parseCpuMax(undefined)).toBeUndefined();
    expect(parseCpuMax('garbage')).toBeUndefined();
  });
});

describe('crash-loop backoff', () => {
  it('restarts a worker that lived long at once, one that keeps dying early after 0.5 s doubling up to 30 s', () => {
    expect([0, 1, 2, 3, 4, 10].map(restartDelayMs)).toEqual([0, 500, 1000, 2000, 4000, 30_000]);
  });
});
