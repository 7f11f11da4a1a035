import { defineSharedConfig } from '../../tooling/vitest.shared.ts';

export default defineSharedConfig('drizzle');
