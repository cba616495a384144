/**
 * `gatehouse test`: decision tables. Each YAML file lists CheckRequests and the outcome expected
 * for each; every request is decided exactly as the server decides it (protobuf bytes → input →
 * the compiled bundle), so a table that passes here passes in production.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { Outcome } from '../authz/outcome.js';
import { GatehouseError, describeThrown } from '../errors.js';
import { EVALUATION_FLAGS, decideRequestJson, loadOfflinePolicy, parse, shorthandRequest, type Io, type RequestShorthand } from './common.js';

export const TEST_USAGE = `Usage: gatehouse test --bundle PATH [--entrypoint PATH] [--verbose] CASES.yaml...

Runs decision tables against a compiled bundle. A table is YAML:

  cases:
    - name: checkout may read stock
      source: spiffe://mesh.local/ns/shop/sa/checkout      # the caller's principal
      destination: spiffe://mesh.local/ns/shop/sa/inventory
      method: GET
      path: /api/v1/stock/sku-1
      headers: { x-request-id: r-1 }                         # optional; body: "..." too
      expect: { allowed: true, headers: { x-gatehouse-rule: checkout-reads-stock } }
    - name: a full CheckRequest in Envoy's proto JSON form
      request: { attributes: { request: { http: { method: GET, path: /healthz } } } }
      expect: { allowed: false, http_status: 403, reason_code: policy_denied, reason_contains: "may not" }

expect keys: allowed, http_status, reason_code, reason, reason_contains, headers (a subset of the
headers the decision sets). Prints one line per case and "decision tables: N passed, N failed";
exit status 0 when all pass, 1 otherwise, 2 for usage or bundle errors.`;

interface Expectation {
  allowed?: boolean;
  http_status?: number;
  reason_code?: string;
  reason?: string;
  reason_contains?: string;
  headers?: Record<string, string>;
}

interface Case extends Partial<RequestShorthand> {
  name: string;
  request?: unknown;
  expect: Expectation;
}

const EXPECT_KEYS = new Set(['allowed', 'http_status', 'reason_code', 'reason', 'reason_contains', 'headers']);

export async function decisionTable(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...EVALUATION_FLAGS, verbose: { type: 'boolean', short: 'v' } }, TEST_USAGE, true);
  if (values.help) {
    io.stdout(`${TEST_USAGE}\n`);
    return 0;
  }
  if (positionals.length === 0) throw new GatehouseError('usage', `name at least one CASES.yaml\n\n${TEST_USAGE}`);
  const offline = await loadOfflinePolicy(values, TEST_USAGE);
  let passed = 0;
  let failed = 0;
  for (const file of positionals) {
    for (const testCase of readCases(file)) {
      const outcome = decideRequestJson(offline, requestOf(testCase), `${file}: case "${testCase.name}"`);
      const problems = compare(testCase.expect, outcome);
      if (problems.length === 0) {
        passed++;
        if (values.verbose) io.stdout(`PASS ${file}: ${testCase.name}\n`);
      } else {
        failed++;
        io.stdout(`FAIL ${file}: ${testCase.name}\n${problems.map((p) => `     ${p}\n`).join('')}`);
      }
    }
  }
  io.stdout(`decision tables: ${passed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

function readCases(file: string): Case[] {
  let document: unknown;
  try {
    document = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new GatehouseError('usage', `cannot read decision table ${file}: ${describeThrown(error)}`);
  }
  const cases = (document as { cases?: unknown } | null)?.cases;
  if (!Array.isArray(cases)) throw new GatehouseError('usage', `${file}: expected a "cases:" list`);
  return cases.map((c, i) => {
    const testCase = c as Case;
    const where = `${file}: case ${i + 1}${typeof testCase?.name === 'string' ? ` ("${testCase.name}")` : ''}`;
    if (typeof testCase?.name !== 'string') throw new GatehouseError('usage', `${where} has no name`);
    if (!testCase.expect || typeof testCase.expect !== 'object') throw new GatehouseError('usage', `${where} has no "expect"`);
    const unknown = Object.keys(testCase.expect).filter((k) => !EXPECT_KEYS.has(k));
    if (unknown.length > 0) throw new GatehouseError('usage', `${where}: unknown expect key(s) ${unknown.join(', ')}`);
    if (testCase.request === undefined && testCase.path === undefined) throw new GatehouseError('usage', `${where} needs "request" or "path"`);
    return testCase;
  });
}

function requestOf(testCase: Case): unknown {
  return testCase.request ?? shorthandRequest({ ...testCase, path: testCase.path! });
}

function compare(expect: Expectation, outcome: Outcome): string[] {
  const problems: string[] = [];
  const got = `got ${outcome.allowed ? 'allow' : 'deny'} (${outcome.reasonLabel}: ${outcome.reason})`;
  if (expect.allowed !== undefined && expect.allowed !== outcome.allowed) problems.push(`expected ${expect.allowed ? 'allow' : 'deny'}, ${got}`);
  const status = outcome.allowed ? 200 : outcome.httpStatus;
  if (expect.http_status !== undefined && expect.http_status !== status) problems.push(`expected http_status ${expect.http_status}, got ${status}`);
  if (expect.reason_code !== undefined && expect.reason_code !== outcome.reasonLabel) problems.push(`expected reason_code ${expect.reason_code}, ${got}`);
  if (expect.reason !== undefined && expect.reason !== outcome.reason) problems.push(`expected reason ${JSON.stringify(expect.reason)}, got ${JSON.stringify(outcome.reason)}`);
  if (expect.reason_contains !== undefined && !outcome.reason.includes(expect.reason_contains)) {
    problems.push(`expected the reason to contain ${JSON.stringify(expect.reason_contains)}, got ${JSON.stringify(outcome.reason)}`);
  }
  const headers = new Map(outcome.decision?.headers ?? []);
  for (const [name, value] of Object.entries(expect.headers ?? {})) {
    const actual = headers.get(name.toLowerCase());
    if (actual !== value) problems.push(`expected header ${name}: ${JSON.stringify(value)}, got ${actual === undefined ? 'none' : JSON.stringify(actual)}`);
  }
  return problems;
}
