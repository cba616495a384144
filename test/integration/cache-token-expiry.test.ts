/**
 * A cached allow never outlives the token it was granted for: with the decision cache opted in for
 * non-deterministic policies (decision_cache_nondeterministic_ttl_ms), the opa-envoy JWT policy's
 * allow is kept at most until the token's `exp`, then the policy decides again (and denies).
 * The wall clock is the test's, shared by the policy (time.now_ns), the pipeline and the cache.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { authorize, type AuthorizeDeps } from '../../src/authz/authorize.js';
import { fromProtoJson } from '../../src/authz/proto-json.js';
import { DecisionCache } from '../../src/cache/decision-cache.js';
import { shorthandRequest } from '../../src/commands/common.js';
import { authzProtos } from '../../src/grpc/protos.js';
import { buildBundle } from '../../src/policy/build.js';
import { readBundle } from '../../src/policy/bundle.js';
import { WasmPolicy } from '../../src/policy/evaluator.js';
import { hs256 } from '../support/jwt.js';
import { tempDir } from '../support/policy.js';
import { ROOT, opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

/** The token checks policies are written with: decode_verify on the clock, with a `time` constraint, or verify + decode + a manual exp check. */
const SHAPES: Record<string, string | undefined> = {
  'decode_verify (examples/jwt/v1)': undefined,
  'decode_verify with a time constraint taken from time.now_ns': `package envoy.authz
import input.attributes.request.http as http_request
default allow := false
allow if {
	[_, encoded] := split(http_request.headers.authorization, " ")
	[valid, _, payload] := io.jwt.decode_verify(encoded, {"secret": "secret", "time": time.now_ns()})
	valid
	payload.role == "guest"
}
`,
  'verify_hs256 + decode + exp compared by hand': `package envoy.authz
import input.attributes.request.http as http_request
default allow := false
allow if {
	[_, encoded] := split(http_request.headers.authorization, " ")
	io.jwt.verify_hs256(encoded, "secret")
	[_, payload, _] := io.jwt.decode(encoded)
	payload.exp > time.now_ns() / 1000000000
	payload.role == "guest"
}
`,
};

describe.skipIf(tool.skip).each(Object.entries(SHAPES))('decision cache and token expiry: %s', (_shape, rego) => {
  const startS = 1_800_000_000;
  let nowMs = startS * 1000;
  let policy: WasmPolicy;
  let deps: AuthorizeDeps;

  beforeAll(async () => {
    let policies = path.join(ROOT, 'examples/jwt/v1');
    if (rego) {
      policies = tempDir();
      mkdirSync(policies, { recursive: true });
      writeFileSync(path.join(policies, 'policy.rego'), rego);
    }
    const out = path.join(tempDir(), 'jwt.tar.gz');
    buildBundle({ opa: tool.opa, policies, out, entrypoint: 'envoy/authz/allow', log: () => undefined });
    policy = await WasmPolicy.load(await readBundle(out, { maxBytes: 1 << 26 }), {
      entrypoint: 'envoy/authz/allow',
      maxMemoryBytes: 1 << 27,
      cache: { mode: 'auto', ttlMs: 60_000, keyFields: [], nondeterministicTtlMs: 600_000 },
      wallClockNs: () => BigInt(nowMs) * 1_000_000n,
    });
    const protos = authzProtos();
    deps = {
      decode: protos.decodeCheckRequest,
      currentPolicy: () => policy,
      inputOptions: { maxBodyBytes: 1 << 20, xfccTrustedSources: new Set() },
      trustDomains: new Set(),
      newDecisionId: () => 'id',
      nowNs: process.hrtime.bigint,
      wallClockNs: () => BigInt(nowMs) * 1_000_000n,
      cache: new DecisionCache({ maxEntries: 100, maxBytes: 1 << 20, nowMs: () => nowMs }),
    };
  });

  it('serves the allow from the cache while the token is valid, and decides again (deny) once it has expired', () => {
    expect(policy.cachePlan.enabled, policy.cachePlan.why).toBe(true);
    const token = hs256({ role: 'guest', sub: 'YWxpY2U', nbf: startS - 60, exp: startS + 10 });
    const protos = authzProtos();
    const bytes = protos.encodeCheckRequest(fromProtoJson(protos.CheckRequest, shorthandRequest({ path: '/people', headers: { authorization: `Bearer ${token}` } })));

    expect(authorize(bytes, deps)).toMatchObject({ allowed: true, cache: 'miss' });
    nowMs += 5_000;
    expect(authorize(bytes, deps)).toMatchObject({ allowed: true, cache: 'hit' });
    nowMs += 5_001; // past exp, well within decision_cache_nondeterministic_ttl_ms
    expect(authorize(bytes, deps)).toMatchObject({ allowed: false, reasonLabel: 'policy_denied', cache: 'miss' });
  });
});
