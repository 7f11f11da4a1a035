import { defineSharedConfig } from '../../tooling/vitest.shared.ts';

// Type checking is part of the test run: tsc checks the whole project (src and test, see
// tsconfig.json) and its errors fail the run and are recorded in the report, so a type regression
// (the typed `userFriendly` on the client, say) fails CI like a failing assertion.
export default defineSharedConfig('trpc', {
  typecheck: {
    enabled: true,
    tsconfig: './tsconfig.json',
    include: ['test/**/*.test-d.ts'],
  },
});
