import { drizzle as drizzleNodePostgres, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate as applyMigrations } from 'drizzle-orm/node-postgres/migrator';
import { migrationTargetOf } from '../internal/migration-order.js';
import type { SafeguardedMigrationConfig } from '../internal/migration-run.js';
import { migrateOnPgConnection } from './pg-migration.js';

/**
 * Applies drizzle's pending migrations (in one transaction) on ONE connection of the Pool (or on the
 * lone Client), holding one slot of the budget for the whole run, behind a session-level advisory lock
 * so instances starting together take turns. Call it at start: once the database has served a query it
 * rejects with `MigrationOrderError`.
 *
 * @example
 * await migrate(db, { migrationsFolder: './drizzle' });
 */
export function migrate(
  // biome-ignore lint/suspicious/noExplicitAny: any schema
  db: NodePgDatabase<any>,
  config: SafeguardedMigrationConfig,
): Promise<void> {
  return migrateOnPgConnection(migrationTargetOf(db, 'node-postgres'), config, (connection, drizzleConfig) =>
    applyMigrations(drizzleNodePostgres({ client: connection as never }), drizzleConfig),
  );
}
