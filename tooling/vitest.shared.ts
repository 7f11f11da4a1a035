import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type ViteUserConfig } from 'vitest/config';
import { RunOutcomeReporter } from './run-outcome-reporter.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The vitest settings every package shares. Besides the terminal output, each package writes a JSON
 * report to `.reports/<name>.json` at the repository root, and the run's outcome (with any error raised
 * outside a test) to `.reports/<name>.outcome.json`; `.ci/run` adds those up into its closing
 * `N passed, N failed` line instead of scraping vitest's human-readable summary.
 */
export function defineSharedConfig(packageName: string, overrides: ViteUserConfig['test'] = {}) {
  const reportDir = process.env.VITEST_JSON_DIR ?? join(repoRoot, '.reports');
  mkdirSync(reportDir, { recursive: true });
  return defineConfig({
    resolve: { conditions: ['@db-safeguards/source'] },
    ssr: { resolve: { conditions: ['@db-safeguards/source'] } },
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      reporters: ['default', 'json', new RunOutcomeReporter(join(reportDir, `${packageName}.outcome.json`))],
      outputFile: { json: join(reportDir, `${packageName}.json`) },
      testTimeout: 20_000,
      hookTimeout: 60_000,
      ...overrides,
    },
  });
}
