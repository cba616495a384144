/**
 * Proof that the decision cache never changes an answer: for several real policies (compiled by
 * OPA, analysed by `gatehouse build`), thousands of generated requests that vary fields inside and
 * outside the derived key are decided twice — through a shared cache, and by a fresh evaluation —
 * and the answers must be identical every time. The cache must also really be used (hits), or the
 * comparison would prove nothing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { authorize, type AuthorizeDeps } from '../../src/authz/authorize.js';
import type { Outcome } from '../../src/authz/outcome.js';
import { DecisionCache } from '../../src/cache/decision-cache.js';
import { authzProtos } from '../../src/grpc/protos.js';
import { readBundle } from '../../src/policy/bundle.js';
import { WasmPolicy } from '../../src/policy/evaluator.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { encodeRequest } from '../support/requests.js';
import { ROOT, opaOrSkip } from '../support/tools.js';
import { seededRandom } from '../support/seeded-random.js';

const tool = opaOrSkip();
const SETTINGS = { mode: 'auto' as const, ttlMs: 60_000, keyFields: [], nondeterministicTtlMs: 0 };

const POLICIES: Record<string, Record<string, string>> = {
  example: {
    'authz.rego': readFileSync(path.join(ROOT, 'policies/authz.rego'), 'utf8'),
    'data.json': readFileSync(path.join(ROOT, 'policies/data.json'), 'utf8'),
  },
  // Reads a header whose name is chosen at runtime (from the query).
  'runtime-header': {
    'p.rego': `package envoy.authz
allow := {"allowed": v == "yes", "headers": {"x-seen": v}, "reason": sprintf("header %s=%s", [name, v])} if {
	name := lower(object.get(input.parsed_query, "h", ["x-flag"])[0])
	v := input.attributes.request.http.headers[name]
} else := {"allowed": false, "reason": "no such header"}
`,
  },
  // Reads the parsed JSON body.
  body: {
    'p.rego': `package envoy.authz
default allow := false
allow if {
	not input.truncated_body
	input.parsed_body.amount < 1000
	input.parsed_body.currency == "EUR"
}
allow if {
	some item in input.parsed_body.items
	item.sku == "free"
}
`,
  },
  // Reads the raw path through a call, the method, and query values by computed index.
  'computed-refs': {
    'p.rego': `package envoy.authz
path_only := split(input.attributes.request.http.path, "?")[0]
allow := {"allowed": true, "headers": {"x-path": path_only}} if {
	startswith(path_only, "/public")
	input.attributes.request.http.method in {"GET", "HEAD"}
} else := {"allowed": false, "http_status": 404} if {
	count(object.get(input.parsed_query, "debug", [])) > 0
} else := false
`,
  },
};


const SOURCES = [
  'spiffe://mesh.local/ns/shop/sa/checkout',
  'spiffe://mesh.local/ns/shop/sa/payments',
  'spiffe://mesh.local/ns/ops/sa/prober',
  'spiffe://evil.example/ns/shop/sa/checkout',
  'checkout.shop.svc',
  undefined,
];
const DESTINATIONS = ['spiffe://mesh.local/ns/shop/sa/inventory', 'spiffe://mesh.local/ns/shop/sa/payments', 'spiffe://mesh.local/ns/shop/sa/unknown'];
const METHODS = ['GET', 'POST', 'DELETE', 'HEAD'];
const PATHS = ['/api/v1/stock/sku-1', '/api/v1/stock', '/api/v1/stockpile', '/api/v1/reservations/r-1', '/api/v1/charges', '/healthz', '/public/a', '/public/a?debug=1', '/private?debug=1&h=x-other', '/api/v1/stock/sku-1?h=X-Flag', '/a/b%2Fc'];
const BODIES = [
  undefined,
  '{"amount":10,"currency":"EUR"}',
  '{"amount":5000,"currency":"EUR"}',
  '{"amount":10,"currency":"USD"}',
  '{"items":[{"sku":"free"}]}',
  '{"items":[{"sku":"paid"}]}',
  '{"amount":',
];

function generate(random: () => number) {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const method = pick(METHODS);
  const path = pick(PATHS);
  const body = pick(BODIES);
  const source = pick(SOURCES);
  const headers: Record<string, string> = {
    ':method': method,
    ':path': path,
    'x-flag': pick(['yes', 'no', 'YES']),
    'x-other': pick(['yes', 'maybe']),
    // Per-request values, outside every key but the widened headers one; drawn from small pools
    // so that requests repeat and the cache is exercised even there.
    'x-request-id': pick(['r-1', 'r-2', 'r-3']),
  };
  if (random() < 0.3) headers.traceparent = `00-${Math.floor(random() * 1e16).toString(16).padStart(32, '0')}-00f067aa0ba902b7-01`;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    if (random() < 0.2) headers['content-length'] = String(body.length + 10); // truncated
  }
  return {
    attributes: {
      source: { address: { socketAddress: { address: '10.0.0.1', portValue: 1024 + Math.floor(random() * 60000) } }, ...(source ? { principal: source } : {}) },
      destination: { principal: pick(DESTINATIONS) },
      request: {
        time: new Date(1_790_000_000_000 + Math.floor(random() * 1e9)).toISOString(),
        http: { id: String(Math.floor(random() * 1e12)), method, path, headers, ...(body !== undefined ? { body } : {}) },
      },
    },
  };
}

/** The pipeline's dependencies as the server wires them, with or without a cache. */
function depsFor(currentPolicy: () => WasmPolicy, cache?: DecisionCache): AuthorizeDeps {
  const protos = authzProtos();
  return {
    decode: protos.decodeCheckRequest,
    currentPolicy,
    inputOptions: { maxBodyBytes: 1 << 20, xfccTrustedSources: new Set() },
    trustDomains: new Set(),
    newDecisionId: () => 'id',
    nowNs: process.hrtime.bigint,
    cache,
  };
}

function comparable(outcome: Outcome) {
  return JSON.stringify({
    allowed: outcome.allowed,
    httpStatus: outcome.httpStatus,
    reasonLabel: outcome.reasonLabel,
    reason: outcome.reason,
    result: outcome.result,
    decision: outcome.decision,
  });
}

describe.skipIf(tool.skip)('the decision cache never changes an answer', () => {
  const loaded: Record<string, WasmPolicy> = {};
  beforeAll(async () => {
    const dir = tempDir();
    for (const [name, files] of Object.entries(POLICIES)) {
      const bundle = buildBundle(tool.opa, files, path.join(dir, `${name}.tar.gz`));
      loaded[name] = await WasmPolicy.load(await readBundle(bundle, { maxBytes: 1 << 26 }), { entrypoint: 'envoy/authz/allow', maxMemoryBytes: 1 << 27, cache: SETTINGS });
    }
  });

  it.each(Object.keys(POLICIES))('%s: 3000 generated requests, cached answer = fresh answer', (name) => {
    const policy = loaded[name]!;
    expect(policy.cachePlan.enabled, policy.cachePlan.why).toBe(true);
    const base = depsFor(() => policy);
    const cached = depsFor(() => policy, new DecisionCache({ maxEntries: 100_000, maxBytes: 1 << 26, nowMs: Date.now }));
    const random = seededRandom(name.length * 7919);
    let hits = 0;
    for (let i = 0; i < 3000; i++) {
      const bytes = encodeRequest(generate(random));
      const viaCache = authorize(bytes, cached);
      const fresh = authorize(bytes, base);
      if (viaCache.cache === 'hit') hits++;
      expect(fresh.cache).toBe('off');
      if (comparable(viaCache) !== comparable(fresh)) {
        throw new Error(`request ${i} differs:\n cached: ${comparable(viaCache)}\n fresh:  ${comparable(fresh)}\n input: ${JSON.stringify(fresh.input)}`);
      }
    }
    // The comparison only proves something if the cache answered a good share of them.
    expect(hits).toBeGreaterThan(300);
  });

  it('a new bundle never serves an entry of the old one, even with the same revision', async () => {
    const dir = tempDir();
    const rego = (allowed: boolean) => ({ 'p.rego': `package envoy.authz\nallow := ${allowed} if input.attributes.request.http.method == "GET"\n` });
    const load = async (file: string) =>
      WasmPolicy.load(await readBundle(file, { maxBytes: 1 << 26 }), { entrypoint: 'envoy/authz/allow', maxMemoryBytes: 1 << 27, cache: SETTINGS });
    const v1 = await load(buildBundle(tool.opa, rego(true), path.join(dir, 'a.tar.gz'), { revision: 'same' }));
    const v2 = await load(buildBundle(tool.opa, rego(false), path.join(dir, 'b.tar.gz'), { revision: 'same' }));
    expect(v1.revision).toBe(v2.revision);
    let current = v1;
    const deps = depsFor(() => current, new DecisionCache({ maxEntries: 100, maxBytes: 1 << 20, nowMs: Date.now }));
    const bytes = encodeRequest({ attributes: { request: { http: { method: 'GET', path: '/' } } } });
    expect(authorize(bytes, deps)).toMatchObject({ allowed: true, cache: 'miss' });
    expect(authorize(bytes, deps)).toMatchObject({ allowed: true, cache: 'hit' });
    current = v2;
    expect(authorize(bytes, deps)).toMatchObject({ allowed: false, cache: 'miss' });
  });

  it('never caches errors', () => {
    const policy = loaded.body!;
    const cache = new DecisionCache({ maxEntries: 100, maxBytes: 1 << 20, nowMs: Date.now });
    const deps = depsFor(() => policy, cache);
    const bytes = encodeRequest({ attributes: { request: { http: { method: 'POST', path: '/', headers: { 'content-type': 'application/json' }, body: '{"amount":' } } } });
    expect(authorize(bytes, deps)).toMatchObject({ reasonLabel: 'input_parse_error', cache: 'off' });
    expect(cache.stats().entries).toBe(0);
  });
});

describe.skipIf(tool.skip)('cache analysis of real policies', () => {
  const analyse = (rego: string) => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, { 'p.rego': `package envoy.authz\n${rego}\n` }, path.join(dir, 'b.tar.gz'));
    return readBundle(bundle, { maxBytes: 1 << 26 }).then((b) => b.cacheAnalysis!);
  };

  it.each([
    ['constant paths', 'allow if input.attributes.request.http.method == "GET"', [['attributes', 'request', 'http', 'method']]],
    ['a dynamic key widens to the object', 'allow if { some k; input.attributes.request.http.headers[k] == "x" }', [['attributes', 'request', 'http', 'headers']]],
    ['a numeric index widens to the array', 'allow if input.parsed_path[0] == "api"', [['parsed_path']]],
    ['a prefix absorbs longer paths', 'x := input.identity\nallow if input.identity.source.valid', [['identity']]],
    ['a call in a reference head', 'allow if split(input.attributes.request.http.path, "?")[0] == "/"', [['attributes', 'request', 'http', 'path']]],
    ['an import alias', 'import input.attributes.request as req\nallow if req.http.method == "GET"', [['attributes', 'request']]],
  ])('%s', async (_name, rego, fields) => {
    const analysis = await analyse(rego);
    expect(analysis.fields).toEqual(fields);
    expect(analysis.uncacheable).toBeUndefined();
  });

  it.each([
    ['input passed to a function', 'f(x) := x.a\nallow if f(input) == 1', 'whole'],
    ['input replaced with "with"', 'p if input.a == 1\nallow if p with input as {"a": 1}', 'whole'],
    ['walk over input', 'allow if { walk(input, [p, v]); v == "admin" }', 'whole'],
  ])('refuses %s', async (_name, rego, why) => {
    expect((await analyse(rego)).uncacheable).toContain(why);
  });

  it('analyses modules reached through symbolic links, exactly as OPA compiles them', async () => {
    const { mkdirSync, symlinkSync, writeFileSync } = await import('node:fs');
    const { buildBundle: build } = await import('../../src/policy/build.js');
    const dir = tempDir();
    mkdirSync(path.join(dir, 'shared'));
    mkdirSync(path.join(dir, 'pol'));
    writeFileSync(path.join(dir, 'shared', 'lib.rego'), 'package shared\n\nok if input.attributes.request.http.method == "GET"\n');
    writeFileSync(path.join(dir, 'pol', 'main.rego'), 'package envoy.authz\n\nallow if {\n\tinput.identity.source.valid\n\tdata.shared.ok\n}\n');
    symlinkSync(path.join(dir, 'shared'), path.join(dir, 'pol', 'lib'));
    const out = path.join(dir, 'b.tar.gz');
    const { analysis } = build({ opa: tool.opa, policies: path.join(dir, 'pol'), out, entrypoint: 'envoy/authz/allow', log: () => undefined });
    expect(analysis.fields).toEqual([['attributes', 'request', 'http', 'method'], ['identity', 'source', 'valid']]);
  });

  it('flags non-deterministic builtins, but not deterministic ones of the same family', async () => {
    // rand.intn is the one non-deterministic builtin the Wasm runtime provides (time.now_ns is not).
    const analysis = await analyse('allow if { rand.intn("x", 10) > 5; time.diff(1, 2) != []; input.a == 1 }');
    expect(analysis.nondeterministic).toEqual(['rand.intn']);
  });
});
