import { defineSharedConfig } from '../../tooling/vitest.shared.ts';

// Each test file starts its own PostgreSQL; files run one at a time so two servers never compete for
// the machine's two cores and the timing assertions stay meaningful.
export default defineSharedConfig('vetmed', {
  // The web client's own logic (CSV, retries) is tested here too, in Node.
  include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'web/src/**/*.test.ts'],
  fileParallelism: false,
  testTimeout: 30_000,
});
