#!/usr/bin/env node
// Runs the whole suite (vitest, which also runs `opa test` on policies/) and ends with one plain
// summary line: "tests: N passed, N failed, N skipped". In CI (CI=true) a skipped test is a
// failure: everything must really run there.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';

mkdirSync('.ci/out', { recursive: true });
const report = '.ci/out/vitest.json';
const run = spawnSync(
  'node_modules/.bin/vitest',
  ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
let summary;
try {
  summary = JSON.parse(readFileSync(report, 'utf8'));
} catch {
  console.error('tests: the vitest report is missing; see the output above');
  process.exit(run.status || 1);
}
const passed = summary.numPassedTests;
const failed = summary.numFailedTests + (summary.numFailedTestSuites ?? 0);
const skipped = summary.numPendingTests + summary.numTodoTests;
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (process.env.CI === 'true' && skipped > 0) {
  console.error('CI=true: skipped tests are not allowed in CI (every dependency is installed by ./dev setup)');
  process.exit(1);
}
if (passed === 0) {
  console.error('no test ran');
  process.exit(1);
}
process.exit(run.status ?? 1);
