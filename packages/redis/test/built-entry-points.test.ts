import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importGraph, itImportsEveryBuiltEntryPoint } from '../../../tooling/built-entry-points.js';

const packageDir = resolve(import.meta.dirname, '..');

describe('built entry points (turbo builds before tests)', () => {
  itImportsEveryBuiltEntryPoint(packageDir, {
    '.': ['createRedisBudget', 'LeasedConnectionBudget', 'RedisRateLimitStore'],
    './allocation': [
      'allocate',
      'fairShare',
      'emptyBudgetState',
      'allocationLua',
      'budgetKeys',
      'redisBudgetExchange',
      'LeasedConnectionBudget',
      'reap',
      'reapLua',
      'RedisBudgetConnection',
    ],
  });

  it('loads no Redis client at run time: ioredis is the caller’s (an optional peer dependency)', () => {
    for (const entry of ['dist/index.js', 'dist/allocation.js']) {
      const { external } = importGraph(join(packageDir, entry));
      expect(
        external.filter(
          (specifier) => !specifier.startsWith('node:') && !specifier.startsWith('@db-safeguards/core'),
        ),
      ).toEqual([]);
    }
  });
});
