import { writeFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

type SerializedError = Parameters<NonNullable<Reporter['onTestRunEnd']>>[1][number];

/**
 * Records what vitest's JSON report leaves out: errors thrown outside any test (an exception from a
 * timer, an unhandled rejection) and how the run ended. Such an error makes `vitest run` exit non-zero
 * while every test in the JSON report says "passed", so `.ci/run` reads this file to count it as a
 * failure instead of printing `0 failed` over a red run.
 */
export class RunOutcomeReporter implements Reporter {
  constructor(private readonly outputFile: string) {}

  onTestRunEnd(
    _testModules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedError>,
    reason: 'passed' | 'interrupted' | 'failed',
  ): void {
    const errors = unhandledErrors.map((error) => ({
      name: error.name,
      message: error.message,
      stack: error.stack?.split('\n').slice(0, 6).join('\n'),
    }));
    writeFileSync(this.outputFile, `${JSON.stringify({ reason, unhandledErrors: errors }, null, 2)}\n`);
  }
}
