// Adds up the vitest JSON reports in a directory and prints the closing line CI reads:
// `N passed, N failed`. A package whose tests ran but left no report (it crashed before
// reporting) counts as one failure, so a broken suite cannot pass by saying nothing. So does each
// error raised outside any test, and an interrupted run (from `<name>.outcome.json`, which
// tooling/run-outcome-reporter.ts writes because vitest's JSON report leaves them out).
//   node tooling/summarise-test-reports.mjs .reports [expected-name ...]
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [directory = '.reports', ...expected] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
const files = existsSync(directory)
  ? readdirSync(directory).filter((name) => name.endsWith('.json') && !name.endsWith('.outcome.json'))
  : [];
for (const file of files) {
  const report = JSON.parse(readFileSync(join(directory, file), 'utf8'));
  passed += report.numPassedTests ?? 0;
  failed += (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0);
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  // A file that failed to load has no tests to count but is marked failed.
  for (const suite of report.testResults ?? []) {
    if (suite.status === 'failed' && (suite.assertionResults ?? []).length === 0) failed++;
  }
  const name = file.replace(/\.json$/, '');
  console.log(
    `${name}: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${(report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)} skipped`,
  );
  const outcomeFile = join(directory, `${name}.outcome.json`);
  if (!existsSync(outcomeFile)) {
    console.log(`${name}: no run outcome (the run did not finish)`);
    failed++;
    continue;
  }
  const outcome = JSON.parse(readFileSync(outcomeFile, 'utf8'));
  for (const error of outcome.unhandledErrors ?? []) {
    console.log(`${name}: error outside any test: ${error.name}: ${error.message}`);
    failed++;
  }
  if (outcome.reason === 'interrupted') {
    console.log(`${name}: the run was interrupted`);
    failed++;
  }
}
for (const name of expected) {
  if (!files.includes(`${name}.json`)) {
    console.log(`${name}: no test report (the suite did not run to the end)`);
    failed++;
  }
}
if (skipped > 0) console.log(`${skipped} skipped`);
console.log(`${passed} passed, ${failed} failed`);
