import type { RunContext } from '@db-safeguards/core';

/**
 * One `migrate()` call: one slot for the whole run, its own deadline (migrations may take longer than
 * a request), and atomic (drizzle applies the pending migrations in one transaction).
 */
export function migrationContext(timeoutMs: number): RunContext {
  return { operationType: 'write', atomic: true, timeoutMs, label: 'migrate' };
}
