/**
 * OPA's conformance cases (v1/test/cases/testdata/v1 of the pinned OPA), compiled to Wasm by OPA's
 * own generator and run through serve's load/evaluate path (run-case.ts). One test per OPA
 * directory; it fails on a case that fails but is not in expected-failures.json, and on a listed
 * case that now passes. The last test prints the pass count.
 *
 *   UPDATE_CONFORMANCE=1 npx vitest run test/conformance   rewrite the list (reasons kept; new
 *                                                          entries marked "TODO:" for a human)
 *   node test/conformance/report.mjs                       failures grouped by builtin / reason
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ROOT } from '../support/tools.js';
import { OPA_VERSION, caseDirectories, generatedProblem, loadDirectory, unrunnableCases } from './cases.js';
import { runCase, type CaseOutcome } from './run-case.js';

const EXPECTED_FILE = path.join(ROOT, 'test/conformance/expected-failures.json');
const UPDATE = process.env.UPDATE_CONFORMANCE === '1';
const TODO = 'TODO: ';

interface ExpectedFailures {
  opa: string;
  /** Cases OPA's generator compiles; a drop means cases silently stopped running. */
  runnable: number;
  /** Case name → why it fails. */
  failures: Record<string, string>;
}

/** The generated cases, made now when missing (a fresh machine without ./dev setup); or why not. */
function ensureGenerated(): string | undefined {
  if (generatedProblem() === undefined) return undefined;
  let problem: string | undefined;
  try {
    execFileSync('bash', [path.join(ROOT, 'scripts/ensure-conformance.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
    problem = generatedProblem();
  } catch (error) {
    problem = String(error);
  }
  if (problem === undefined) return undefined;
  const message = `the OPA conformance cases are not compiled (${problem}): run "bash scripts/ensure-conformance.sh" (needs Go)`;
  if (process.env.CI === 'true') throw new Error(`${message}; CI must not skip tests`);
  return message;
}

const skip = ensureGenerated();
if (skip) console.warn(`skipping: ${skip}`);
const expected = JSON.parse(readFileSync(EXPECTED_FILE, 'utf8')) as ExpectedFailures;
const directories = skip ? [] : caseDirectories();
const outcomes = new Map<string, CaseOutcome>();
const ranDirectories = new Set<string>();

describe.skipIf(skip !== undefined)(`OPA v${OPA_VERSION} conformance cases through gatehouse's Wasm runtime`, () => {
  test('the judge fails a case whose expectation is wrong', async () => {
    const c = loadDirectory('aggregates').find((k) => k.want_result !== undefined && k.want_result.length > 0);
    if (!c) throw new Error('no aggregates case with a result');
    expect((await runCase(c)).passed).toBe(true);
    const { want_result: _, ...bare } = c;
    expect((await runCase({ ...c, want_result: [{ x: 'something else' }] })).passed).toBe(false);
    expect((await runCase({ ...c, want_result: [...c.want_result!, { x: 'one more row' }] })).passed).toBe(false);
    expect((await runCase({ ...bare, want_defined: false })).passed).toBe(false);
    expect((await runCase({ ...bare, want_error_code: 'eval_conflict_error', want_error: '' })).passed).toBe(false);
    expect((await runCase({ ...bare, want_error_code: 'eval_type_error', strict_error: true })).passed).toBe(false);
  });

  test.each(directories)('%s', async (directory) => {
    const unexpected: string[] = [];
    const nowPassing: string[] = [];
    for (const c of loadDirectory(directory)) {
      const outcome = await runCase(c);
      outcomes.set(c.name, outcome);
      const listed = Object.hasOwn(expected.failures, c.name);
      if (!outcome.passed && !listed) unexpected.push(`${c.name}\n    ${(outcome.detail ?? '').replace(/\n/g, '\n    ')}`);
      if (outcome.passed && listed) nowPassing.push(c.name);
    }
    ranDirectories.add(directory);
    if (UPDATE) return;
    expect(unexpected, 'cases that fail and are not in test/conformance/expected-failures.json').toEqual([]);
    expect(nowPassing, 'cases in test/conformance/expected-failures.json that now pass: remove them (UPDATE_CONFORMANCE=1)').toEqual([]);
  }, 120_000);

  test('every listed case exists, and the pass count', () => {
    const allRan = ranDirectories.size === directories.length;
    const passed = [...outcomes.values()].filter((o) => o.passed).length;
    const unrunnable = unrunnableCases().length;
    const todo = Object.values(expected.failures).filter((reason) => reason.startsWith(TODO)).length;
    console.log(
      `OPA v${OPA_VERSION} conformance: ${passed}/${outcomes.size} runnable cases pass` +
        ` (${outcomes.size - passed} failing${todo ? `, ${todo} listed without a reason yet` : ''};` +
        ` ${unrunnable} cases OPA's generator cannot compile are not run)`,
    );
    if (!allRan || UPDATE) return; // a filtered run (-t) cannot judge the whole list
    const unknown = Object.keys(expected.failures).filter((name) => !outcomes.has(name));
    expect(unknown, 'names in expected-failures.json that match no case').toEqual([]);
    expect(outcomes.size, 'runnable cases (expected-failures.json "runnable")').toBe(expected.runnable);
  });

  afterAll(() => {
    if (process.env.CONFORMANCE_RESULTS) {
      writeFileSync(process.env.CONFORMANCE_RESULTS, JSON.stringify({ opa: OPA_VERSION, expected: expected.failures, unrunnable: unrunnableCases(), outcomes: [...outcomes.values()] }));
    }
    if (UPDATE) writeExpected();
  });
});

const NOT_IMPLEMENTED = 'host builtin not implemented yet: ';

/** A missing builtin explains itself; anything else needs a human's reason. */
function defaultReason(blame: string): string {
  const missing = /^missing builtin: (.*)$/.exec(blame);
  return missing ? `${NOT_IMPLEMENTED}${missing[1]}` : `${TODO}${blame}`;
}

function isGenerated(reason: string): boolean {
  return reason.startsWith(TODO) || reason.startsWith(NOT_IMPLEMENTED);
}

/** Rewrites the list for the directories that ran: reasons of still-failing cases kept, new ones marked TODO. */
function writeExpected(): void {
  const failures: Record<string, string> = {};
  for (const [name, reason] of Object.entries(expected.failures)) {
    if (!ranDirectories.has(name.split('/')[0] ?? '')) failures[name] = reason;
  }
  for (const outcome of outcomes.values()) {
    if (outcome.passed) continue;
    // A human's reason is kept; a generated one is generated again (the cause may have changed).
    const listed = expected.failures[outcome.name];
    const reason = listed !== undefined && !isGenerated(listed) ? listed : defaultReason(outcome.blame ?? 'unknown');
    failures[outcome.name] = reason;
  }
  const sorted = Object.fromEntries(Object.entries(failures).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const allRan = ranDirectories.size === directories.length;
  const next: ExpectedFailures = { opa: OPA_VERSION, runnable: allRan ? outcomes.size : expected.runnable, failures: sorted };
  writeFileSync(EXPECTED_FILE, `${JSON.stringify(next, null, 2)}\n`);
  console.log(`wrote ${path.relative(ROOT, EXPECTED_FILE)}: ${Object.keys(sorted).length} expected failures`);
}
