/**
 * An evaluation thread that ends by itself (a crash, not a timeout): the evaluations it held fail
 * (an Error, which authorize turns into an eval_error deny), the thread is replaced and the
 * replacement is told about, and nothing is left waiting.
 */
import { describe, expect, it } from 'vitest';
import { EvalThreads, type ThreadPolicy } from '../../src/policy/eval-threads.js';

const WORKER = new URL('../support/crashing-eval-worker.mjs', import.meta.url);
// The smallest valid WebAssembly module: the crashing thread never instantiates it.
const POLICY: ThreadPolicy = { id: EvalThreads.nextPolicyId(), module: new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])), data: new Uint8Array(), entrypoint: 0, maxMemoryBytes: 1 << 20 };

describe('evaluation threads: a thread that exits', () => {
  it('fails the evaluations it held, replaces the thread, and reports it', async () => {
    const replaced: string[] = [];
    const threads = new EvalThreads({ timeoutMs: 10_000, workerUrl: WORKER, onReplaced: (why, detail) => replaced.push(`${why}: ${detail}`) });
    try {
      await threads.prepare(POLICY);
      const results = await Promise.allSettled([1, 2].map(() => threads.evaluate(POLICY, { policy: POLICY.id, input: '{}' })));
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/evaluation thread ended \(exit code 7\)/);
      expect(replaced).toEqual(['exit: exit code 7']);
      expect(threads.replaced).toBe(1);
    } finally {
      await threads.close();
    }
  });
});
