/**
 * `gatehouse test`: decision tables. Each YAML file lists CheckRequests and the outcome expected
 * for each; every request is decided exactly as the server decides it (protobuf bytes → input →
 * the compiled bundle), so a table that passes here passes in production.
 */
import { readFileSync } from 'node:fs';
import { closestMatch } from 'leven';
import { LineCounter, isMap, isScalar, parseDocument, visit, type Document, type Node } from 'yaml';
import type { Outcome } from '../authz/outcome.js';
import { fromProtoJson } from '../authz/proto-json.js';
import { authzProtos } from '../grpc/protos.js';
import { GatehouseError, describeThrown } from '../errors.js';
import { decideRequestJson, loadOfflinePolicy, shorthandRequest, type Io, type RequestShorthand, type Values } from './common.js';

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

/** Runs the decision tables in `files` against --bundle; 0 when every case passes, 1 otherwise. */
export async function decisionTable(values: Values, files: string[], io: Io): Promise<number> {
  // Every table is read (and its keys checked) before the bundle loads: a typo fails fast.
  const tables = files.map((file) => ({ file, cases: readCases(file) }));
  const offline = await loadOfflinePolicy(values, '');
  let passed = 0;
  let failed = 0;
  for (const { file, cases } of tables) {
    for (const testCase of cases) {
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

/** The keys a table, a case and an expectation may have; anything else is a mistake. */
const TABLE_KEYS = ['cases'];
const SHORTHAND_KEYS = ['source', 'destination', 'method', 'path', 'headers', 'body'];
const CASE_KEYS = ['name', 'request', ...SHORTHAND_KEYS, 'expect'];
const EXPECT_KEYS = ['allowed', 'http_status', 'reason_code', 'reason', 'reason_contains', 'headers'];
/** Keys people write for a case key that edit distance would not find. */
const SYNONYMS: Record<string, string> = { principal: 'source', source_principal: 'source', caller: 'source', destination_principal: 'destination', callee: 'destination', status: 'http_status' };

/** `"key"; did you mean "known"?`, when one known key is close. */
function unknownKey(key: string, known: readonly string[]): string {
  const hint = SYNONYMS[key] !== undefined && known.includes(SYNONYMS[key]!) ? SYNONYMS[key] : closestMatch(key, known, { maxDistance: Math.max(2, Math.floor(key.length / 3)) });
  return `unknown key "${key}"${hint ? `; did you mean "${hint}"?` : ''} (known: ${known.join(', ')})`;
}

/**
 * The cases of one table. Every key is checked, at every level, with its line: a mistyped key
 * would otherwise be ignored and the case run as something else (a case with "principal:" ran
 * with no source at all).
 */
export function readCases(file: string): Case[] {
  const lineCounter = new LineCounter();
  let document: Document;
  try {
    document = parseDocument(readFileSync(file, 'utf8'), { lineCounter, prettyErrors: true });
  } catch (error) {
    throw new GatehouseError('usage', `cannot read decision table ${file}: ${describeThrown(error)}`);
  }
  if (document.errors.length > 0) throw new GatehouseError('usage', `decision table ${file}: ${document.errors[0]!.message}`);
  const fail = (path: (string | number)[], message: string): never => {
    const node = document.getIn(path, true) as { range?: [number, number] } | undefined;
    const at = node?.range ? `:${lineCounter.linePos(node.range[0]).line}` : '';
    throw new GatehouseError('usage', `${file}${at}: ${message}`);
  };
  /** Fails on the first key of the mapping at `path` that is not in `known`, naming its line. */
  const checkKeys = (path: (string | number)[], where: string, known: readonly string[]): void => {
    const node = path.length === 0 ? document.contents : document.getIn(path, true);
    if (!isMap(node)) return fail(path, `${where} must be a mapping`);
    for (const pair of node.items) {
      const key = (pair.key as { value?: unknown } | null)?.value;
      if (typeof key === 'string' && known.includes(key)) continue;
      const at = (pair.key as { range?: [number, number] } | null)?.range;
      throw new GatehouseError('usage', `${file}${at ? `:${lineCounter.linePos(at[0]).line}` : ''}: ${where}: ${unknownKey(String(key), known)}`);
    }
  };
  checkKeys([], 'the table', TABLE_KEYS);
  const cases = (document.toJS() as { cases?: unknown }).cases;
  if (!Array.isArray(cases)) return fail([], 'expected a "cases:" list');
  return cases.map((c, i) => {
    const testCase = c as Case;
    const path = ['cases', i];
    const where = `case ${i + 1}${typeof testCase?.name === 'string' ? ` ("${testCase.name}")` : ''}`;
    checkKeys(path, where, CASE_KEYS);
    if (typeof testCase.name !== 'string') fail(path, `${where} has no name`);
    if (testCase.expect === undefined) fail(path, `${where} has no "expect"`);
    checkKeys([...path, 'expect'], `${where}, expect`, EXPECT_KEYS);
    const shorthand = SHORTHAND_KEYS.filter((k) => k in testCase);
    if (testCase.request !== undefined && shorthand.length > 0) {
      fail([...path, 'request'], `${where} has both "request" and ${shorthand.join(', ')}: give a full CheckRequest or the shorthand, not both`);
    }
    if (testCase.request === undefined && testCase.path === undefined) fail(path, `${where} needs "request" or "path"`);
    if (testCase.request !== undefined) {
      // Checked here, with its line, rather than when the case runs: a misspelt field fails the table.
      try {
        fromProtoJson(authzProtos().CheckRequest, testCase.request);
      } catch (error) {
        // Point at the unknown field itself when there is one, else at the request.
        const field = /unknown field "([^"]+)"/.exec(describeThrown(error))?.[1];
        let at: [number, number] | undefined;
        visit(document.getIn([...path, 'request'], true) as Node, {
          Pair: (_, pair) => {
            if (isScalar(pair.key) && pair.key.value === field && pair.key.range) {
              at = [pair.key.range[0], pair.key.range[1]];
              return visit.BREAK;
            }
            return undefined;
          },
        });
        const message = `${where}: request is not a CheckRequest in proto JSON form: ${describeThrown(error)}`;
        if (at) throw new GatehouseError('usage', `${file}:${lineCounter.linePos(at[0]).line}: ${message}`);
        fail([...path, 'request'], message);
      }
    }
    for (const key of ['source', 'destination', 'method', 'path', 'body'] as const) {
      if (testCase[key] !== undefined && typeof testCase[key] !== 'string') fail([...path, key], `${where}: ${key} must be a string, got ${JSON.stringify(testCase[key])}`);
    }
    checkTypes(testCase.expect, (key, message) => fail([...path, 'expect', key], `${where}, expect: ${key} ${message}`));
    for (const [owner, headers] of [[path, testCase.headers], [[...path, 'expect'], testCase.expect.headers]] as const) {
      if (headers === undefined) continue;
      if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) fail([...owner, 'headers'], `${where}: headers must be a mapping of names to values`);
      for (const [name, value] of Object.entries(headers)) {
        if (typeof value !== 'string') fail([...owner, 'headers', name], `${where}: header ${name} must be a string (quote it), got ${JSON.stringify(value)}`);
      }
    }
    return testCase;
  });
}

/** The expectation's values have the types compare() reads. */
function checkTypes(expect: Expectation, fail: (key: string, message: string) => never): void {
  if (expect.allowed !== undefined && typeof expect.allowed !== 'boolean') fail('allowed', `must be true or false, got ${JSON.stringify(expect.allowed)}`);
  if (expect.http_status !== undefined && !Number.isInteger(expect.http_status)) fail('http_status', `must be an integer, got ${JSON.stringify(expect.http_status)}`);
  for (const key of ['reason_code', 'reason', 'reason_contains'] as const) {
    if (expect[key] !== undefined && typeof expect[key] !== 'string') fail(key, `must be a string, got ${JSON.stringify(expect[key])}`);
  }
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
