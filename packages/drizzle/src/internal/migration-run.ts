import type { MigrationConfig } from 'drizzle-orm/migrator';
import type { MigrationTarget } from './migration-order.js';
import { migrationContext } from './run-context.js';

/** Options of every entry's `migrate(db, config)`: drizzle's own, plus a deadline. */
export interface SafeguardedMigrationConfig extends MigrationConfig {
  /** Deadline of the whole run (waiting for the lock included). Default 300 000 ms. */
  timeoutMs?: number;
}

/**
 * Runs `body` as one migration: refused with `MigrationOrderError` once the database has served queries,
 * else one `safeguards.run` holding one slot for the whole run, with its own deadline.
 */
export function runMigration(
  target: MigrationTarget,
  config: SafeguardedMigrationConfig,
  body: (signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const timeoutMs = config.timeoutMs ?? 300_000;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1)
    throw new TypeError(`Expected timeoutMs to be a positive integer, got ${String(timeoutMs)}`);
  return target.order.guard(() =>
    target.safeguards.run((scope) => body(scope.signal), migrationContext(timeoutMs)),
  );
}

/** drizzle's part of the config (the deadline is ours). */
export function drizzleMigrationConfig(config: SafeguardedMigrationConfig): MigrationConfig {
  const { timeoutMs: _, ...rest } = config;
  return rest;
}

/**
 * The session-level advisory lock that makes concurrent `migrate()` calls (several instances starting at
 * once) take turns: one key per migrations table.
 */
export function migrationLockKey(config: MigrationConfig): string {
  return `db-safeguards/drizzle:${config.migrationsSchema ?? 'drizzle'}.${config.migrationsTable ?? '__drizzle_migrations'}`;
}
