/**
 * The evaluation thread (eval_timeout_ms > 0, serve's default) against inline evaluation, which
 * opa-conformance.test.ts judges: every runnable OPA conformance case evaluated both ways must give
 * the same result-set text, the same builtin errors, and fail (or not) alike. Cases whose result
 * may differ between two evaluations (clock, randomness, environment variables) are left out.
 */
import { afterAll, describe, expect, test } from 'vitest';
import type { EvaluationCall } from '../../src/authz/authorize.js';
import { isNondeterministicBuiltin } from '../../src/policy/builtins/catalogue.js';
import { fromFiles } from '../../src/policy/bundle.js';
import { EvalThreads } from '../../src/policy/eval-threads.js';
import { WasmPolicy } from '../../src/policy/evaluator.js';
import { caseDirectories, generatedProblem, loadDirectory, type ConformanceCase } from './cases.js';

const skip = generatedProblem();
if (skip) console.warn(`skipping: the OPA conformance cases are not compiled (${skip}): run "bash scripts/ensure-conformance.sh" (needs Go)`);
const CACHE_OFF = { mode: 'off', ttlMs: 0, keyFields: [], nondeterministicTtlMs: 0 } as const;
const threads = skip ? undefined : new EvalThreads({ timeoutMs: 10_000, spare: false });
afterAll(() => threads?.close());

/** JSON text, or undefined when it holds a number JSON.stringify cannot write (a bigint). */
function json(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

type Result = { json?: string; error?: boolean; builtinErrors?: string[] };

async function both(c: ConformanceCase): Promise<[Result, Result] | undefined> {
  const input = c.input === undefined ? '' : json(c.input);
  const data = json(c.data ?? {});
  if (c.input_term !== undefined || c.env !== undefined || input === undefined || data === undefined) return undefined;
  const files = new Map([
    ['policy.wasm', c.wasm],
    ['data.json', Buffer.from(data)],
  ]);
  const options = { entrypoint: 'eval', cache: CACHE_OFF, maxMemoryBytes: 256 << 20, print: () => undefined };
  let inline: WasmPolicy;
  try {
    inline = await WasmPolicy.load(fromFiles(c.name, files, 'conformance', { maxBytes: 1 << 30 }), options);
  } catch {
    return undefined; // refused at load: the same for both paths
  }
  if (inline.hostBuiltins.some(isNondeterministicBuiltin)) return undefined;
  const offThread = await WasmPolicy.load(fromFiles(c.name, files, 'conformance', { maxBytes: 1 << 30 }), { ...options, evalThreads: threads });
  try {
    const inlineCall: EvaluationCall = {};
    const threadCall: EvaluationCall = {};
    const a: Result = {};
    const b: Result = {};
    try {
      a.json = inline.evaluateJson(new TextEncoder().encode(input), inlineCall);
    } catch {
      a.error = true;
    }
    try {
      b.json = JSON.stringify(await offThread.evaluateOffThread(input, threadCall));
      if (a.json !== undefined) a.json = JSON.stringify(JSON.parse(a.json));
    } catch {
      b.error = true;
    }
    a.builtinErrors = inlineCall.builtinErrors;
    b.builtinErrors = threadCall.builtinErrors;
    return [a, b];
  } finally {
    offThread.releaseThreads();
  }
}

describe.skipIf(skip !== undefined)('OPA conformance cases: evaluation thread = inline', () => {
  let compared = 0;
  test.each(skip ? [] : caseDirectories())('%s', async (directory) => {
    const differences: string[] = [];
    for (const c of loadDirectory(directory)) {
      const pair = await both(c);
      if (!pair) continue;
      compared++;
      const [inline, thread] = pair;
      if (JSON.stringify(inline) !== JSON.stringify(thread)) differences.push(`${c.name}: inline ${JSON.stringify(inline)} thread ${JSON.stringify(thread)}`);
    }
    expect(differences).toEqual([]);
  });
  afterAll(() => console.log(`${compared} conformance cases evaluated inline and on the evaluation thread alike`));
});
