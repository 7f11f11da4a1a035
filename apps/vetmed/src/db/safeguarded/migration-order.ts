/**
 * `migrate()` was called after the database had served queries. It holds one slot of the budget but
 * opens a connection of its own: with the pool already holding connections (up to the whole budget),
 * that one can be a connection beyond the budget, refused with 53300 at a role's limit or taken from
 * another instance's share. Run migrations at start, before serving (as `startVetmed` does), or on
 * their own with `pnpm db:migrate`.
 */
export class MigrationOrderError extends Error {
  override readonly name = 'MigrationOrderError';

  constructor() {
    super(
      'migrate() was called after the database served queries: its own connection, on top of the ' +
        'pool, could exceed the connection budget. Run migrations at start, before serving, or with ' +
        '`pnpm db:migrate`.',
    );
  }
}

/** True for a {@link MigrationOrderError}, also from another installed copy of this module. */
export function isMigrationOrderError(error: unknown): error is MigrationOrderError {
  return error instanceof Error && error.name === 'MigrationOrderError';
}

/**
 * Tracks whether a database has served queries, for drivers whose `migrate()` must come first.
 * `markUsed` goes to `guardDrizzle`'s `onUse`; `guard(migrate)` refuses once it has been called.
 */
export function migrationOrder(): { markUsed(): void; guard(migrate: () => Promise<void>): Promise<void> } {
  let used = false;
  return {
    markUsed() {
      used = true;
    },
    guard(migrate) {
      return used ? Promise.reject(new MigrationOrderError()) : migrate();
    },
  };
}
