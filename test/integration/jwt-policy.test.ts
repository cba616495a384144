/**
 * The JWT policy of OPA's Envoy tutorial (examples/jwt: the v1 port and the v0 original, built with
 * --v0-compatible) decides through gatehouse exactly as `opa eval` decides on the same input
 * document: valid, expired, not yet valid, wrongly signed, unsigned and wrong-role tokens.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decideRequestJson, loadOfflinePolicy, shorthandRequest, type OfflinePolicy } from '../../src/commands/common.js';
import { buildBundle } from '../../src/policy/build.js';
import { b64url, hs256 } from '../support/jwt.js';
import { tempDir } from '../support/policy.js';
import { ROOT, opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();


const now = Math.floor(Date.now() / 1000);
const guest = { role: 'guest', sub: b64url('alice'), nbf: now - 60, exp: now + 3600 };
const admin = { role: 'admin', sub: b64url('alice'), nbf: now - 60, exp: now + 3600 };

interface Case {
  name: string;
  method?: string;
  path?: string;
  authorization?: string;
  body?: string;
  allowed: boolean;
}

const CASES: Case[] = [
  { name: 'guest reads /people', authorization: `Bearer ${hs256(guest)}`, allowed: true },
  { name: 'admin reads /people', authorization: `Bearer ${hs256(admin)}`, allowed: true },
  { name: 'admin reads /people/42 (the glob stops at "/")', path: '/people/42', authorization: `Bearer ${hs256(admin)}`, allowed: false },
  { name: 'admin creates someone else', method: 'POST', body: '{"firstname":"Charlie"}', authorization: `Bearer ${hs256(admin)}`, allowed: true },
  { name: 'admin creates themself', method: 'POST', body: '{"firstname":"Alice"}', authorization: `Bearer ${hs256(admin)}`, allowed: false },
  { name: 'guest may not create (wrong role)', method: 'POST', body: '{"firstname":"Charlie"}', authorization: `Bearer ${hs256(guest)}`, allowed: false },
  { name: 'guest outside /people', path: '/admin', authorization: `Bearer ${hs256(guest)}`, allowed: false },
  { name: 'expired token', authorization: `Bearer ${hs256({ ...guest, exp: now - 10 })}`, allowed: false },
  { name: 'token not yet valid', authorization: `Bearer ${hs256({ ...guest, nbf: now + 600 })}`, allowed: false },
  { name: 'wrong signature', authorization: `Bearer ${hs256(guest, 'not-the-secret')}`, allowed: false },
  { name: 'alg none', authorization: `Bearer ${b64url('{"alg":"none"}')}.${b64url(JSON.stringify(guest))}.`, allowed: false },
  { name: 'tampered payload', authorization: `Bearer ${hs256(guest).replace(/\.[^.]+\./, `.${b64url(JSON.stringify(admin))}.`)}`, allowed: false },
  { name: 'no authorization header', allowed: false },
  { name: 'not a JWT', authorization: 'Bearer abc.def', allowed: false },
];

function requestFor(c: Case): unknown {
  const headers: Record<string, string> = {};
  if (c.authorization) headers.authorization = c.authorization;
  if (c.body) headers['content-type'] = 'application/json';
  return shorthandRequest({ method: c.method ?? 'GET', path: c.path ?? '/people', headers, body: c.body });
}

/** The decisions `opa eval` takes on the same input documents, in one run. */
function opaDecisions(policyDir: string, inputs: unknown[], v0: boolean): unknown[] {
  const file = path.join(tempDir(), 'cases.json');
  writeFileSync(file, JSON.stringify({ cases: inputs }));
  const query = 'decisions := [d | c := input.cases[_]; d := data.envoy.authz.allow with input as c]';
  const out = execFileSync(tool.opa, ['eval', ...(v0 ? ['--v0-compatible'] : []), '--format', 'json', '-d', policyDir, '-i', file, query], { encoding: 'utf8' });
  return (JSON.parse(out) as { result: { bindings: { decisions: unknown[] } }[] }).result[0]!.bindings.decisions;
}

describe.skipIf(tool.skip).each([
  { variant: 'v1', dir: 'examples/jwt/v1', v0: false },
  { variant: 'v0 original (--v0-compatible)', dir: 'examples/jwt/v0', v0: true },
])('the opa-envoy JWT policy, $variant', ({ dir, v0 }) => {
  let offline: OfflinePolicy;
  beforeAll(async () => {
    const out = path.join(tempDir(), 'jwt.tar.gz');
    buildBundle({ opa: tool.opa, policies: path.join(ROOT, dir), out, entrypoint: 'envoy/authz/allow', v0Compatible: v0, log: () => undefined });
    offline = await loadOfflinePolicy({ bundle: out }, '');
  });

  it('builds, and gives the expected decision for every token, the same as opa eval', () => {
    const outcomes = CASES.map((c) => decideRequestJson(offline, requestFor(c), c.name));
    for (const [i, outcome] of outcomes.entries()) {
      expect({ name: CASES[i]!.name, allowed: outcome.allowed, code: outcome.reasonLabel }).toEqual({
        name: CASES[i]!.name,
        allowed: CASES[i]!.allowed,
        code: CASES[i]!.allowed ? 'policy_allowed' : 'policy_denied',
      });
    }
    const oracle = opaDecisions(path.join(ROOT, dir), outcomes.map((o) => o.input), v0);
    expect(outcomes.map((o) => o.allowed)).toEqual(oracle);
  });

  it('keeps the failing builtin\'s message with the Check (a malformed token is undefined, as in OPA)', () => {
    const outcome = decideRequestJson(offline, requestFor({ name: 'garbage', authorization: 'Bearer a.b.c', allowed: false }), 'garbage');
    expect(outcome.allowed).toBe(false);
    expect(outcome.builtinErrors?.[0]).toMatch(/^io\.jwt\.decode_verify: .*base64/);
  });

  it('is not cached by default (it reads the clock)', () => {
    expect(offline.policy.cachePlan.enabled).toBe(false);
    expect(offline.policy.cachePlan.why).toMatch(/time\.now_ns|io\.jwt\.decode_verify/);
  });
});
