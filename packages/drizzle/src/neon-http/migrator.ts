import { drizzle as drizzleNeonHttp, type NeonHttpDatabase } from 'drizzle-orm/neon-http';
import { migrate as applyMigrations } from 'drizzle-orm/neon-http/migrator';
import { migrationTargetOf } from '../internal/migration-order.js';
import {
  drizzleMigrationConfig,
  runMigration,
  type SafeguardedMigrationConfig,
} from '../internal/migration-run.js';

/**
 * Applies drizzle's pending migrations over HTTP, holding one slot for the whole run. Each statement is
 * its own request: there is no session for an advisory lock, and drizzle's neon-http migrator does not
 * run them in one transaction. Instances starting together may race: prefer migrating over
 * `@db-safeguards/drizzle/neon-serverless`. Once the database has served a query it rejects with
 * `MigrationOrderError`, as on every driver.
 */
export function migrate(
  // biome-ignore lint/suspicious/noExplicitAny: any schema
  db: NeonHttpDatabase<any>,
  config: SafeguardedMigrationConfig,
): Promise<void> {
  const target = migrationTargetOf(db, 'neon-http');
  return runMigration(target, config, () =>
    applyMigrations(drizzleNeonHttp({ client: target.client as never }), drizzleMigrationConfig(config)),
  );
}
