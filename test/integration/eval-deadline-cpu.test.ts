/**
 * The evaluation deadline counts the evaluation thread's CPU time (policy/eval-threads.ts): an
 * ordinary evaluation whose thread is starved of CPU (this process pinned to one CPU with four
 * busy loops, taskset) is decided by the policy, not cut off with eval_timeout, while a runaway
 * under the same starvation is still stopped. Linux only (it needs /proc/thread-self/schedstat and
 * taskset). Bounded: the busy loops are started with `timeout 60` and killed by pid at the end.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatehouseError } from '../../src/errors.js';
import { readBundle } from '../../src/policy/bundle.js';
import { EvalThreads } from '../../src/policy/eval-threads.js';
import { WasmPolicy } from '../../src/policy/evaluator.js';
import { buildBundle, tempDir, RUNAWAY_BODY } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-cp', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const linux = existsSync('/proc/thread-self/schedstat') && hasTaskset();
if (!linux && process.env.CI === 'true') throw new Error('the CPU-time deadline test needs Linux /proc and taskset (util-linux) in CI');

// "/slow": a few ms of CPU (40,000 steps); "/runaway": seconds.
const POLICY = `package envoy.authz

import rego.v1

default allow := false

allow if {
\tinput.path == "/slow"
\tcount([x | some i in numbers.range(1, 200); some j in numbers.range(1, 200); x := i * j]) > 0
}

allow if {
\tinput.path == "/runaway"
${RUNAWAY_BODY}
}
`;

/**
 * Pins every thread of this process to `cpus` (taskset list syntax). Thread by thread, because
 * `taskset -a` fails as a whole when one of the threads exits while it runs (an evaluation thread
 * being replaced); a thread that is gone meanwhile needs no affinity. New threads inherit it.
 */
function setAffinity(cpus: string): void {
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      execFileSync('taskset', ['-cp', cpus, tid], { stdio: 'ignore' });
    } catch {
      // the thread exited meanwhile
    }
  }
}

const OPTIONS = { entrypoint: 'envoy/authz/allow', maxMemoryBytes: 256 << 20, cache: { mode: 'off' as const, ttlMs: 0, keyFields: [], nondeterministicTtlMs: 0 } };
const TIMEOUT_MS = 60;
const HOGS = 4;

describe.skipIf(tool.skip || !linux)('evaluation deadline in CPU time (skipped without OPA, Linux /proc or taskset)', () => {
  let threads: EvalThreads;
  let policy: WasmPolicy;
  let affinity = '';
  const hogs: ChildProcess[] = [];
  const replaced: string[] = [];

  beforeAll(async () => {
    const out = buildBundle(tool.opa, { 'policy.rego': POLICY }, path.join(tempDir(), 'bundle.tar.gz'));
    const bundle = await readBundle(out, { maxBytes: 1 << 26 });
    threads = new EvalThreads({ timeoutMs: TIMEOUT_MS, onReplaced: (_why, detail) => replaced.push(detail) });
    policy = await WasmPolicy.load(bundle, { ...OPTIONS, evalThreads: threads, print: () => undefined });
    // Unstarved, the slow evaluation is well inside the deadline.
    const started = performance.now();
    expect(await policy.evaluateOffThread(JSON.stringify({ path: '/slow' }), {})).toEqual([{ result: true }]);
    console.info(`unstarved, the slow evaluation took ${Math.round(performance.now() - started)} ms wall-clock`);
    // "pid N's current affinity list: 0,1" -> pin every thread of this process, and the hogs, to the first CPU.
    affinity = execFileSync('taskset', ['-cp', String(process.pid)], { encoding: 'utf8' }).split(':').pop()!.trim();
    const cpu = affinity.split(/[,-]/)[0]!;
    setAffinity(cpu);
    // Each hog in its own process group (detached), killed as a group in afterAll: SIGKILL to
    // `timeout` alone would leave its busy child running forever.
    for (let i = 0; i < HOGS; i++) hogs.push(spawn('timeout', ['60', 'taskset', '-c', cpu, 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore', detached: true }));
  });

  afterAll(async () => {
    for (const hog of hogs) {
      try {
        process.kill(-hog.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (affinity) setAffinity(affinity);
    await threads?.close();
  });

  it('decides ordinary evaluations on a starved CPU, and still stops a runaway there', async () => {
    const walls: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      expect(await policy.evaluateOffThread(JSON.stringify({ path: '/slow' }), {})).toEqual([{ result: true }]);
      walls.push(Math.round(performance.now() - started));
    }
    expect(replaced).toEqual([]);
    console.info(`slow evaluations took ${JSON.stringify(walls)} ms wall-clock each under ${HOGS} busy loops (deadline ${TIMEOUT_MS} ms of CPU)`);
    const error = await policy.evaluateOffThread(JSON.stringify({ path: '/runaway' }), {}).then(
      () => 'finished',
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(GatehouseError);
    expect((error as GatehouseError).code).toBe('eval_timeout');
    expect(replaced).toHaveLength(1);
  }, 60_000);
});
