/**
 * The evaluation threads (policy/eval-threads.ts) with real compiled policies: results, print
 * lines, builtin errors and validUntilNs come back from the thread as inline evaluation gives them;
 * a runaway evaluation is stopped with eval_timeout, the evaluations queued behind it are decided
 * by the replacement thread, and the pool keeps evaluating.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorize } from '../../src/authz/authorize.js';
import { DecisionCache } from '../../src/cache/decision-cache.js';
import { GatehouseError } from '../../src/errors.js';
import { authzProtos } from '../../src/grpc/protos.js';
import { encodeRequest } from '../support/requests.js';
import { readBundle } from '../../src/policy/bundle.js';
import { EvalThreads } from '../../src/policy/eval-threads.js';
import { WasmPolicy, type EvaluationCall } from '../../src/policy/evaluator.js';
import { buildBundle, tempDir, RUNAWAY_BODY } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

const POLICY = `package envoy.authz

import rego.v1

default allow := false

allow if {
\tprint("path is", input.path)
\tinput.path == "/public"
}

allow if {
\tinput.path == "/bad-number"
\thex.decode("zz") == "x"
}

allow if {
\tinput.path == "/token"
\t[_, payload, _] := io.jwt.decode(input.token)
\tpayload.sub == "alice"
\tnow := time.now_ns()
\tnow > 0
}

allow if {
\tinput.path == "/runaway"
${RUNAWAY_BODY}
}
`;

const OPTIONS = { entrypoint: 'envoy/authz/allow', maxMemoryBytes: 256 << 20, cache: { mode: 'off' as const, ttlMs: 0, keyFields: [], nondeterministicTtlMs: 0 } };

describe.skipIf(tool.skip)('evaluation threads', () => {
  let threads: EvalThreads;
  let policy: WasmPolicy;
  let inline: WasmPolicy;
  let bundle: Awaited<ReturnType<typeof readBundle>>;
  const printed: [string, string | undefined][] = [];
  const replaced: string[] = [];

  beforeAll(async () => {
    const out = buildBundle(tool.opa, { 'policy.rego': POLICY }, path.join(tempDir(), 'bundle.tar.gz'));
    bundle = await readBundle(out, { maxBytes: 1 << 26 });
    threads = new EvalThreads({ timeoutMs: 1000, onReplaced: (why) => replaced.push(why) });
    policy = await WasmPolicy.load(bundle, { ...OPTIONS, evalThreads: threads, print: (line, id) => printed.push([line, id]) });
    inline = await WasmPolicy.load(bundle, { ...OPTIONS, print: () => undefined });
  });
  afterAll(() => threads?.close());

  it('decides as the inline path does, and brings print lines back with the decision id', async () => {
    const input = JSON.stringify({ path: '/public' });
    expect(await policy.evaluateOffThread(input, { decisionId: 'd1' })).toEqual(inline.evaluate(new TextEncoder().encode(input)));
    expect(printed).toContainEqual(['path is /public', 'd1']);
    printed.length = 0;
    await policy.evaluateOffThread(input, { decisionId: 'd2', quiet: true });
    expect(printed).toEqual([]);
  });

  it('returns builtin errors and the validity bound a builtin set', async () => {
    const bad: EvaluationCall = {};
    expect(await policy.evaluateOffThread(JSON.stringify({ path: '/bad-number' }), bad)).toEqual([{ result: false }]);
    expect(bad.builtinErrors?.[0]).toMatch(/^hex\.decode: /);
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const token = [{ alg: 'none' }, { sub: 'alice', exp }, {}].map((part) => Buffer.from(JSON.stringify(part)).toString('base64url')).join('.');
    const timed: EvaluationCall = {};
    expect(await policy.evaluateOffThread(JSON.stringify({ path: '/token', token }), timed)).toEqual([{ result: true }]);
    const direct: EvaluationCall = {};
    inline.evaluate(new TextEncoder().encode(JSON.stringify({ path: '/token', token })), direct);
    expect(timed.validUntilNs).toBe(direct.validUntilNs);
  });

  it('through authorize: a miss is a Promise of the Outcome, a cache hit an Outcome at once', async () => {
    const cached = await WasmPolicy.load(bundle, { ...OPTIONS, cache: { mode: 'auto', ttlMs: 60_000, keyFields: [], nondeterministicTtlMs: 60_000 }, evalThreads: threads, print: () => undefined });
    expect(cached.cachePlan.enabled, cached.cachePlan.why).toBe(true);
    const protos = authzProtos();
    const deps = {
      decode: protos.decodeCheckRequest,
      currentPolicy: () => cached,
      inputOptions: { maxBodyBytes: 1 << 20, xfccTrustedSources: new Set<string>() },
      trustDomains: new Set<string>(),
      newDecisionId: () => 'id',
      nowNs: process.hrtime.bigint,
      cache: new DecisionCache({ maxEntries: 10, maxBytes: 1 << 20, nowMs: Date.now }),
      offThread: true,
    };
    const bytes = encodeRequest({ attributes: { request: { http: { method: 'GET', path: '/other', headers: {} } } } });
    const miss = authorize(bytes, deps);
    expect(miss).toBeInstanceOf(Promise);
    expect(await miss).toMatchObject({ allowed: false, reasonLabel: 'policy_denied', cache: 'miss' });
    const hit = authorize(bytes, deps);
    expect(hit).not.toBeInstanceOf(Promise);
    expect(hit).toMatchObject({ allowed: false, cache: 'hit' });
    // Inline when the deps do not ask for the thread.
    const inline = authorize(bytes, { ...deps, offThread: false, cache: undefined });
    expect(inline).not.toBeInstanceOf(Promise);
    expect(inline).toMatchObject({ reasonLabel: 'policy_denied', cache: 'off' });
  });

  it('stops a runaway evaluation with eval_timeout; evaluations in flight with it are decided by the next thread', async () => {
    const before = threads.replaced;
    const runaway = policy.evaluateOffThread(JSON.stringify({ path: '/runaway' }), {}).then(
      () => 'finished',
      (error: unknown) => error,
    );
    // One in the runaway's batch, two in the next batch (in flight on the same thread meanwhile).
    const queued = [policy.evaluateOffThread(JSON.stringify({ path: '/public' }), { quiet: true })];
    await new Promise((resolve) => setImmediate(resolve));
    queued.push(...[1, 2].map(() => policy.evaluateOffThread(JSON.stringify({ path: '/public' }), { quiet: true })));
    const error = await runaway;
    expect(error).toBeInstanceOf(GatehouseError);
    expect((error as GatehouseError).code).toBe('eval_timeout');
    expect(await Promise.all(queued)).toEqual([[{ result: true }], [{ result: true }], [{ result: true }]]);
    expect(threads.replaced).toBe(before + 1);
    expect(replaced).toContain('timeout');
    // The replacement keeps serving, again and again.
    for (let i = 0; i < 3; i++) expect(await policy.evaluateOffThread(JSON.stringify({ path: '/nope' }), {})).toEqual([{ result: false }]);
  });
});
