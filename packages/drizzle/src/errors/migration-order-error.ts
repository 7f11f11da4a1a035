/**
 * `migrate()` was called after the database had served queries. It holds one slot of the budget but
 * (except on PGlite) opens a connection of its own: with the pool already holding connections (up to
 * the whole budget) that one could be a connection beyond the budget, refused with 53300 at a role's
 * limit or taken from another instance's share. PGlite refuses too, so that an app developed on it keeps
 * the start-up order the servers need.
 */
export class MigrationOrderError extends Error {
  override readonly name = 'MigrationOrderError';

  constructor(
    /** The drizzle driver name, e.g. `postgres-js`. */
    readonly driver: string,
  ) {
    super(
      `migrate() was called after the ${driver} database served queries: its own connection, on top of ` +
        'the pool, could exceed the connection budget. Run migrations at start, before serving.',
    );
  }
}

/** True for a {@link MigrationOrderError}, also from another installed copy of this package. */
export function isMigrationOrderError(error: unknown): error is MigrationOrderError {
  return error instanceof Error && error.name === 'MigrationOrderError';
}
