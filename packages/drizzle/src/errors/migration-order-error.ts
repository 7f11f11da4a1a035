/**
 * `migrate()` was called after the database had served queries. Migrations run first, at start: a query
 * served before them sees a half-migrated schema, and instances starting together must all have passed
 * the migration lock before any serves. Refused on every driver, so that a start-up order that works on
 * the embedded database (PGlite) works on a server too.
 */
export class MigrationOrderError extends Error {
  override readonly name = 'MigrationOrderError';

  constructor(
    /** The drizzle driver name, e.g. `postgres-js`. */
    readonly driver: string,
  ) {
    super(
      `migrate() was called after the ${driver} database served queries: run migrations at start, ` +
        'before the first query, so no query sees a half-migrated schema.',
    );
  }
}

/** True for a {@link MigrationOrderError}, also from another installed copy of this package. */
export function isMigrationOrderError(error: unknown): error is MigrationOrderError {
  return error instanceof Error && error.name === 'MigrationOrderError';
}
