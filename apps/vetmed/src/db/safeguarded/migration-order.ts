import type { DriverName } from '../database-config.js';

const remedy = 'Run migrations at start, before serving, or with `pnpm db:migrate`.';

/** Why `migrate()` after the first query is refused, told true for each driver. */
function reasonFor(driver: DriverName): string {
  if (driver === 'pglite')
    return (
      'PGlite runs it on its one connection, but postgres.js and Neon open a connection of their own ' +
      'for it, which on top of their pool could exceed the connection budget; it is refused on every ' +
      'driver so that a start-up order that works on the embedded database works on a server too.'
    );
  return 'its own connection, on top of the pool, could exceed the connection budget.';
}

/**
 * `migrate()` was called after the database had served queries. On postgres.js and Neon it holds one
 * slot of the budget but opens a connection of its own: with the pool already holding connections
 * (up to the whole budget), that one can be a connection beyond the budget, refused with 53300 at a
 * role's limit or taken from another instance's share. PGlite has one connection and opens none, but
 * refuses too, so that code developed on it keeps the order the servers need. The message says which.
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
 * Tracks whether a database has served queries, so that `migrate()` comes first. `markUsed` goes to
 * `guardDrizzle`'s `onUse`; `guard(migrate)` refuses once it has been called.
 */
export function migrationOrder(driver: DriverName): {
  markUsed(): void;
  guard(migrate: () => Promise<void>): Promise<void>;
} {
  let used = false;
  return {
    markUsed() {
      used = true;
    },
    guard(migrate) {
      return used ? Promise.reject(new MigrationOrderError(driver)) : migrate();
    },
  };
}
