import { drizzle as drizzlePglite, type PgliteDatabase } from 'drizzle-orm/pglite';
import { migrate as applyMigrations } from 'drizzle-orm/pglite/migrator';
import { migrationTargetOf } from '../internal/migration-order.js';
import {
  drizzleMigrationConfig,
  runMigration,
  type SafeguardedMigrationConfig,
} from '../internal/migration-run.js';

/**
 * Applies drizzle's pending migrations (in one transaction) on PGlite's one connection, holding one slot
 * for the whole run. Call it at start: once the database has served a query it rejects with
 * `MigrationOrderError`, as on every driver.
 */
export function migrate(
  // biome-ignore lint/suspicious/noExplicitAny: any schema
  db: PgliteDatabase<any>,
  config: SafeguardedMigrationConfig,
): Promise<void> {
  const target = migrationTargetOf(db, 'pglite');
  return runMigration(target, config, () =>
    applyMigrations(drizzlePglite({ client: target.client as never }), drizzleMigrationConfig(config)),
  );
}
