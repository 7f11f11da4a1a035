import { defineSharedConfig } from '../../tooling/vitest.shared.ts';

// Each test file starts its own PostgreSQL; files run one at a time so two servers never compete for
// the machine's two cores and the timing assertions stay meaningful.
export default defineSharedConfig('vetmed', { fileParallelism: false, testTimeout: 30_000 });
