// Shared by the benchmarks that compare variants of one `gatehouse serve` (dist/, one process, the
// benchmark policy and corpus) in one invocation under a fixed number of Checks from this process:
// bench/live-map-cost.mjs and bench/tracing-cost.mjs.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { authzProtos } from '../../dist/grpc/protos.js';
import { POLICY_DIR, makeCorpus } from '../corpus.mjs';
import { ROOT } from './tools.mjs';

export const MAIN = path.join(ROOT, 'dist/main.js');

/**
 * --checks N (default 20000), --concurrency C (32), --rounds R (1) as numbers; with --help, prints
 * the script's header comment (the lines after the shebang up to the first import) and exits.
 * @param {string} scriptUrl the benchmark's import.meta.url
 */
export function benchOptions(scriptUrl) {
  const { values } = parseArgs({
    options: {
      checks: { type: 'string', default: '20000' },
      concurrency: { type: 'string', default: '32' },
      rounds: { type: 'string', default: '1' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    const lines = readFileSync(new URL(scriptUrl), 'utf8').split('\n').slice(1);
    console.log(lines.slice(0, lines.findIndex((line) => !line.startsWith('//'))).map((line) => line.replace(/^\/\/ ?/, '')).join('\n'));
    process.exit(0);
  }
  return { checks: Number(values.checks), concurrency: Number(values.concurrency), rounds: Number(values.rounds) };
}

/**
 * The benchmark policy built into a bundle in a fresh temporary directory (named after `tag`), and
 * 2,000 corpus requests; the protos are loaded before anything is timed.
 * @returns {{ work: string, bundle: string, corpus: object[] }}
 */
export function prepareBundle(tag) {
  const work = mkdtempSync(path.join(tmpdir(), `gatehouse-${tag}-bench-`));
  const bundle = path.join(work, 'bundle.tar.gz');
  execFileSync(process.execPath, [MAIN, 'build', '--policies', POLICY_DIR, '--out', bundle], { stdio: 'ignore' });
  const data = JSON.parse(readFileSync(path.join(POLICY_DIR, 'data.json'), 'utf8'));
  authzProtos();
  return { work, bundle, corpus: makeCorpus(data, 2000) };
}

/**
 * `gatehouse serve` with `args` (after serve) and `env` added to this process's. `serving` resolves
 * with the milliseconds from spawn to "gatehouse is serving" (rejects if it exits or takes over
 * 20 s); `stop()` sends SIGTERM (SIGKILL after 5 s) and waits for the exit.
 */
export function startServe(args, env = {}) {
  const started = performance.now();
  const child = spawn(process.execPath, [MAIN, 'serve', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let stderr = '';
  const serving = new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (stderr.includes('gatehouse is serving')) resolve(performance.now() - started);
    });
    child.once('exit', () => reject(new Error(`server exited: ${stderr}`)));
    setTimeout(() => reject(new Error(`not serving after 20 s: ${stderr}`)), 20_000).unref();
  });
  serving.catch(() => undefined); // awaited by the caller; not an unhandled rejection meanwhile
  const stop = async () => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  return { child, serving, stop };
}

/** `n` Checks through `client` (lib/servers.mjs CheckClient), `concurrency` in flight, cycling through `corpus`; throws if any failed. */
export async function drive(client, corpus, n, concurrency) {
  let next = 0;
  let failed = 0;
  const lane = async () => {
    while (next < n) {
      const request = corpus[next++ % corpus.length];
      try {
        await client.check(request);
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  if (failed > 0) throw new Error(`${failed} Checks failed`);
}

/**
 * Runs every variant once per round, in order, round after round (so drift hits all alike), printing
 * each result as a JSON line on standard error. Returns the results in run order.
 * @template V, R
 * @param {number} rounds
 * @param {V[]} variants
 * @param {(variant: V) => Promise<R>} runVariant
 * @returns {Promise<R[]>}
 */
export async function runRounds(rounds, variants, runVariant) {
  const results = [];
  for (let round = 0; round < rounds; round++) {
    for (const variant of variants) {
      const result = await runVariant(variant);
      results.push(result);
      console.error(JSON.stringify(result));
    }
  }
  return results;
}
