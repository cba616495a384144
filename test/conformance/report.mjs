#!/usr/bin/env node
/**
 * Runs the OPA conformance suite (test/conformance/opa-conformance.test.ts) and prints the pass
 * count and the failing cases grouped by cause: the missing or failing builtin, or what differs.
 *
 *   node test/conformance/report.mjs             counts per cause, a few case names each
 *   node test/conformance/report.mjs --all       every case name
 *   node test/conformance/report.mjs --details   every case with want/got
 *   node test/conformance/report.mjs <text>      only causes or case names containing <text>
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from './paths.mjs';

const args = process.argv.slice(2);
const details = args.includes('--details');
const all = details || args.includes('--all');
const filter = args.find((a) => !a.startsWith('--'));
const SHOWN = 5;

const scratch = mkdtempSync(path.join(tmpdir(), 'gatehouse-conformance-report-'));
const resultsFile = path.join(scratch, 'results.json');
const run = spawnSync(path.join(ROOT, 'node_modules/.bin/vitest'), ['run', 'test/conformance/opa-conformance.test.ts', '--reporter=dot'], {
  cwd: ROOT,
  env: { ...process.env, CONFORMANCE_RESULTS: resultsFile },
  encoding: 'utf8',
  maxBuffer: 256 * 1024 * 1024,
});
let results;
try {
  results = JSON.parse(readFileSync(resultsFile, 'utf8'));
} catch {
  process.stdout.write(run.stdout ?? '');
  process.stderr.write(run.stderr ?? '');
  console.error('report: the conformance suite wrote no results (see above)');
  process.exit(1);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

const { opa, expected, unrunnable, outcomes } = results;
const failing = outcomes.filter((o) => !o.passed);
const unlisted = failing.filter((o) => !Object.hasOwn(expected, o.name));
const nowPassing = outcomes.filter((o) => o.passed && Object.hasOwn(expected, o.name));
console.log(`OPA v${opa} conformance: ${outcomes.length - failing.length}/${outcomes.length} runnable cases pass, ${failing.length} fail`);
console.log(`  ${unlisted.length} failing but not in expected-failures.json; ${nowPassing.length} listed there but passing (update: UPDATE_CONFORMANCE=1 npx vitest run test/conformance)`);
console.log(`  ${unrunnable.length} cases OPA's generator does not compile are not run:`);
printGroups(groupBy(unrunnable, (u) => [u.reason.replace(/^test case .*?: /, '').replace(/module\d+\.rego:\d+: /, '')]), false);

console.log(`\nFailures by cause (a case that needs several builtins counts under each):`);
printGroups(
  groupBy(failing, (o) => {
    const blame = o.blame ?? 'unknown';
    const match = /^(missing builtin|refused builtin|builtin error|host builtin): (.*)$/.exec(blame);
    return match ? match[2].split(', ').map((name) => `${match[1]}: ${name}`) : [blame];
  }),
  true,
);
if (run.status !== 0) console.log('\n(the suite fails: see `npx vitest run test/conformance`)');

function groupBy(items, keys) {
  const groups = new Map();
  for (const item of items) {
    for (const key of keys(item)) groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  return [...groups].sort(([a, x], [b, y]) => y.length - x.length || (a < b ? -1 : 1));
}

function printGroups(groups, withCases) {
  for (const [cause, items] of groups) {
    const shown = filter ? items.filter((i) => cause.includes(filter) || i.name.includes(filter)) : items;
    if (shown.length === 0) continue;
    console.log(`${String(shown.length).padStart(5)}  ${cause}`);
    if (!withCases) continue;
    for (const item of all ? shown : shown.slice(0, SHOWN)) {
      const reason = expected[item.name];
      console.log(`         ${item.name}${reason && !reason.startsWith('TODO') ? `  [listed: ${reason}]` : ''}`);
      if (details && item.detail) console.log(`           ${item.detail.replace(/\n/g, '\n           ')}`);
    }
    if (!all && shown.length > SHOWN) console.log(`         ... ${shown.length - SHOWN} more (--all)`);
  }
}
