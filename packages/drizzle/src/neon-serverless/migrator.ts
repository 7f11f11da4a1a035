import { drizzle as drizzleNeonServerless, type NeonDatabase } from 'drizzle-orm/neon-serverless';
import { migrate as applyMigrations } from 'drizzle-orm/neon-serverless/migrator';
import { migrationTargetOf } from '../internal/migration-order.js';
import type { SafeguardedMigrationConfig } from '../internal/migration-run.js';
import { migrateOnPgConnection } from '../node-postgres/pg-migration.js';

/**
 * Applies drizzle's pending migrations (in one transaction) on ONE connection of the Neon Pool, holding
 * one slot of the budget for the whole run, behind a session-level advisory lock so instances starting
 * together take turns. Behind a `-pooler` host (PgBouncer in transaction mode) a session lock does not
 * hold: migrate with a `drizzle()` over Neon's direct host. Call it at start: once the database has
 * served a query it rejects with `MigrationOrderError`.
 */
export function migrate(
  // biome-ignore lint/suspicious/noExplicitAny: any schema
  db: NeonDatabase<any>,
  config: SafeguardedMigrationConfig,
): Promise<void> {
  return migrateOnPgConnection(
    migrationTargetOf(db, 'neon-serverless'),
    config,
    (connection, drizzleConfig) =>
      applyMigrations(drizzleNeonServerless({ client: connection as never }), drizzleConfig),
  );
}
