/**
 * The request-hygiene catalogue (test/cases/hygiene/cases.json) against a real policy compiled by
 * OPA (test/cases/hygiene/policy.rego), through the whole pipeline as the server wires it:
 * - strict (the default) refuses each case with its rule, status and offending part, or (JSON
 *   family) lets the policy see the body and deny;
 * - compatible answers what gatehouse answered before hygiene existed: the bypasses are
 *   allowed (limits, which apply in both modes, deny);
 * - differential: the request a backend serves instead (`canonical`) is denied by the policy, so
 *   letting the original through would have been a bypass;
 * - clean requests pass strict;
 * - the examples through a running server (strict and compatible) and `gatehouse check`.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorize, type AuthorizeDeps } from '../../src/authz/authorize.js';
import { HYGIENE_RULES, type HygieneRuleId } from '../../src/authz/hygiene/index.js';
import type { Outcome } from '../../src/authz/outcome.js';
import { loadConfig, requestHygiene } from '../../src/config/load.js';
import { authzProtos } from '../../src/grpc/protos.js';
import { readBundle } from '../../src/policy/bundle.js';
import { WasmPolicy } from '../../src/policy/evaluator.js';
import { startTestApp, eventually, type TestApp } from '../support/app.js';
import { run } from '../support/cli.js';
import { HYGIENE_CASES, HYGIENE_DIR, hygieneRequestBytes, hygieneRequestJson, type RefusedCase } from '../support/hygiene-cases.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';
import { readFileSync } from 'node:fs';

const tool = opaOrSkip();
const { refused, clean } = HYGIENE_CASES;
const examples = refused.filter((c) => c.example);
const byName = (cases: RefusedCase[]) => cases.map((c) => [`${c.class}: ${c.name}`, c] as const);

let bundle: string;
let policy: WasmPolicy;

function deps(mode: 'strict' | 'compatible'): AuthorizeDeps {
  const config = loadConfig({ flags: { bundle, 'request-hygiene': mode }, env: {} });
  return {
    decode: authzProtos().decodeCheckRequest,
    currentPolicy: () => policy,
    inputOptions: { maxBodyBytes: config.max_body_bytes, hygiene: requestHygiene(config), xfccTrustedSources: new Set() },
    trustDomains: new Set(),
    newDecisionId: () => 'id',
    nowNs: process.hrtime.bigint,
  };
}

function expectRefusal(outcome: Outcome, c: RefusedCase): void {
  const rule = HYGIENE_RULES[c.rule as HygieneRuleId];
  expect(rule, `unknown rule ${c.rule}`).toBeDefined();
  expect(outcome.allowed).toBe(false);
  expect(outcome.reasonLabel).toBe(rule.code);
  expect(outcome.hygiene?.rule).toBe(c.rule);
  expect(outcome.httpStatus).toBe(c.status);
  expect(outcome.reason).toContain(`request hygiene rule ${c.rule}: `);
  if (c.part) expect(outcome.hygiene?.part).toBe(c.part);
}

describe.skipIf(tool.skip)('request hygiene cases', () => {
  beforeAll(async () => {
    bundle = buildBundle(tool.opa, { 'policy.rego': readFileSync(path.join(HYGIENE_DIR, 'policy.rego'), 'utf8') }, path.join(tempDir(), 'hygiene.tar.gz'));
    policy = await WasmPolicy.load(await readBundle(bundle, { maxBytes: 1 << 26 }), {
      entrypoint: 'envoy/authz/allow',
      maxMemoryBytes: 1 << 28,
      cache: { mode: 'off', ttlMs: 1, keyFields: [], nondeterministicTtlMs: 0 },
    });
  });

  it('has every class of the issue, each with an example', () => {
    const classes = new Set(examples.map((c) => c.class));
    expect([...classes].sort()).toEqual(
      ['content type', 'control and look-alike', 'host variants', 'invalid UTF-8', 'method', 'method override', 'oversized', 'path parameters', 'query separators', 'separator', 'trailing dot or space', 'underscore header'],
    );
    // Every rule is exercised by at least one case.
    const used = new Set(refused.map((c) => c.rule).filter(Boolean));
    expect(Object.keys(HYGIENE_RULES).filter((id) => !used.has(id))).toEqual([]);
  });

  describe('strict (default) refuses', () => {
    it.each(byName(refused))('%s', (_name, c) => {
      const outcome = authorize(hygieneRequestBytes(c.request, c.bytes), deps('strict'));
      if (c.rule) expectRefusal(outcome, c);
      else {
        expect(outcome.reasonLabel).toBe(c.expect);
        expect(outcome.reason).toContain(c.reason);
      }
    });
  });

  describe('compatible answers as before hygiene', () => {
    it.each(byName(refused))('%s', (_name, c) => {
      const outcome = authorize(hygieneRequestBytes(c.request, c.bytes), deps('compatible'));
      if (c.compatible === 'allow') {
        expect(outcome.reason).toBe('allowed by policy');
        expect(outcome.allowed).toBe(true);
      } else if (c.compatible_reason !== undefined) {
        expect(outcome.allowed).toBe(false); // fixed in both modes (a fail-open, not a hygiene preference)
        expect(outcome.reason).toContain(c.compatible_reason);
      } else expectRefusal(outcome, c); // a limit
    });
  });

  describe('the request a backend serves instead is denied by the policy', () => {
    it.each(byName(refused.filter((c) => c.canonical)))('%s', (_name, c) => {
      const outcome = authorize(hygieneRequestBytes(c.canonical!), deps('strict'));
      expect(outcome.reasonLabel).toBe('policy_denied');
    });
  });

  describe('clean requests pass strict', () => {
    it.each(clean.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      const outcome = authorize(hygieneRequestBytes(c.request), deps('strict'));
      expect(outcome.reason).toBe('allowed by policy');
    });
  });

  describe('the issue examples through a running server', () => {
    let strict: TestApp;
    let compatible: TestApp;
    beforeAll(async () => {
      strict = await startTestApp({ bundle, 'decision-cache': 'off' });
      compatible = await startTestApp({ bundle, 'decision-cache': 'off', 'request-hygiene': 'compatible' });
    });
    afterAll(async () => {
      await strict?.stop();
      await compatible?.stop();
    });

    it.each(byName(examples))('%s', async (_name, c) => {
      const bytes = hygieneRequestBytes(c.request, c.bytes);
      const reply = await strict.client.check(bytes);
      expect(reply.allowed).toBe(false);
      expect(reply.rpcCode).toBe(7);
      const id = reply.metadata.decision_id;
      await eventually(() => strict.decisions.some((d) => d.decision_id === id));
      const event = strict.decisions.find((d) => d.decision_id === id)!;
      if (c.rule) {
        expect(reply.httpStatus).toBe(c.status);
        expect(reply.metadata.reason_code).toBe(HYGIENE_RULES[c.rule as HygieneRuleId].code);
        expect(event.gatehouse.hygiene.rule).toBe(c.rule);
        expect(event.gatehouse.reason).toContain(`request hygiene rule ${c.rule}: `);
      } else expect(event.gatehouse.reason).toContain(c.reason);
      expect((await compatible.client.check(bytes)).allowed).toBe(c.compatible === 'allow');
    });

    it('counts refusals by rule', async () => {
      const metrics = (await strict.admin('/metrics')).text;
      expect(metrics).toMatch(/gatehouse_request_hygiene_refusals_total\{rule="path_separator_in_segment"\} [1-9]/);
      expect(metrics).toMatch(/gatehouse_request_hygiene_refusals_total\{rule="url_override"\} 0/);
    });
  });

  describe('the issue examples through gatehouse check', () => {
    // A JSON request file cannot hold raw bytes; a lone surrogate is what protobuf encodes as
    // bytes that are not UTF-8, so the examples with raw bytes use one.
    const asJson = (c: RefusedCase) => {
      let text = JSON.stringify(hygieneRequestJson(c.request));
      for (const placeholder of Object.keys(c.bytes ?? {})) text = text.replaceAll(placeholder, '\\udcff');
      return text;
    };
    it.each(byName(examples))('%s', (_name, c) => {
      const file = path.join(tempDir(), 'request.json');
      writeFileSync(file, asJson(c));
      const strict = run('check', '--bundle', bundle, '--request', file);
      expect(strict.status, strict.stderr).toBe(1);
      const report = JSON.parse(strict.stdout);
      if (c.rule) {
        expect(report.decision.hygiene.rule).toBe(c.rule);
        expect(report.decision.reason).toContain(`request hygiene rule ${c.rule}: `);
        expect(report.decision.http_status).toBe(c.status);
      } else expect(report.decision.reason).toContain(c.reason);
      const compatible = run('check', '--bundle', bundle, '--request', file, '--request-hygiene', 'compatible');
      expect(compatible.status).toBe(c.compatible === 'allow' ? 0 : 1);
    });
  });
});
