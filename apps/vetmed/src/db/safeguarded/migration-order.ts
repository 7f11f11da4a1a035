import { hasServedQueries } from '@db-safeguards/drizzle';
import type { DriverName } from '../database-config.js';

const remedy = 'Run migrations at start, before serving, or with `pnpm db:migrate`.';

/** Why `migrate()` after the first query is refused, told true for each driver. */
function reasonFor(driver: DriverName): string {
  if (driver === 'pglite')
    return (
      'queries served before it would see a half-migrated schema; it is refused on every driver so that ' +
      'a start-up order that works on the embedded database works on a server too.'
    );
  return (
    'queries served before it would see a half-migrated schema, and over DATABASE_URL_UNPOOLED it opens ' +
    'a connection of its own, which on top of a warm pool could exceed the connection budget.'
  );
}

/**
 * `migrate()` was called after the database had served queries. It runs on one connection of the pool
 * (one slot of the budget), but queries served before it saw a half-migrated schema, and over a direct
 * URL (`DATABASE_URL_UNPOOLED`) it opens a connection of its own, which on top of a warm pool could be a
 * connection beyond the budget. Refused on every driver, PGlite too, so that code developed on it keeps
 * the order the servers need. The message says why for the driver.
 */
export class MigrationOrderError extends Error {
  override readonly name = 'MigrationOrderError';

  constructor(readonly driver: DriverName) {
    super(`migrate() was called after the database served queries: ${reasonFor(driver)} ${remedy}`);
  }
}

/** True for a {@link MigrationOrderError}, also from another installed copy of this module. */
export function isMigrationOrderError(error: unknown): error is MigrationOrderError {
  return error instanceof Error && error.name === 'MigrationOrderError';
}

/**
 * Runs `migrate` unless `db` has served a query, in which case it rejects with the app's
 * {@link MigrationOrderError}, which says why for the driver at hand.
 */
export function guardMigrationOrder(
  db: object,
  driver: DriverName,
  migrate: () => Promise<void>,
): Promise<void> {
  return hasServedQueries(db) ? Promise.reject(new MigrationOrderError(driver)) : migrate();
}
