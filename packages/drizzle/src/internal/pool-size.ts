import type { Safeguards } from '@db-safeguards/core';

/**
 * Throws when a driver pool may open more connections than the budget grants: the budget would then
 * stop nothing (a pool of 20 under a budget of 8 lets a reserved connection or a listener be the ninth).
 */
export function assertPoolWithinBudget(option: string, poolMax: unknown, safeguards: Safeguards): void {
  const budget = safeguards.queue.options.maxConcurrentConnections;
  if (typeof poolMax === 'number' && poolMax > budget)
    throw new TypeError(
      `Expected ${option} to be at most the connection budget (${budget}), got ${poolMax}: the pool could ` +
        'open connections the budget never granted',
    );
}
