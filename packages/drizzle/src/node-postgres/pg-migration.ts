import type { MigrationConfig } from 'drizzle-orm/migrator';
import type { MigrationTarget } from '../internal/migration-order.js';
import {
  drizzleMigrationConfig,
  migrationLockKey,
  runMigration,
  type SafeguardedMigrationConfig,
} from '../internal/migration-run.js';
import { onAbort } from '../internal/run-context.js';
import { cancelRunningQuery, type PgClientLike } from './pg-internals.js';
import { exclusiveUseOf } from './session.js';

/**
 * A migration on a pg-compatible client (pg's or Neon's): one connection checked out of the Pool (or the
 * lone Client, in its exclusive turn), locked with a session-level advisory lock for the whole run.
 */
export function migrateOnPgConnection(
  target: MigrationTarget,
  config: SafeguardedMigrationConfig,
  apply: (connection: PgClientLike, config: MigrationConfig) => Promise<void>,
): Promise<void> {
  const raw = target.client as PgClientLike & { totalCount?: number };
  const isPool = typeof raw.totalCount === 'number';
  const inTurn = isPool ? <T>(work: () => Promise<T>) => work() : exclusiveUseOf(raw)();
  const key = migrationLockKey(config);
  return runMigration(target, config, (signal) =>
    inTurn(async () => {
      const connection = isPool ? ((await raw.connect()) as PgClientLike) : raw;
      const detach = onAbort(signal, () => cancelRunningQuery(connection));
      let broken: Error | undefined;
      try {
        await connection.query('select pg_advisory_lock(hashtext($1))', [key]);
        try {
          await apply(connection, drizzleMigrationConfig(config));
        } finally {
          await connection.query('select pg_advisory_unlock(hashtext($1))', [key]);
        }
      } catch (error) {
        broken = error instanceof Error ? error : new Error(String(error));
        throw error;
      } finally {
        detach();
        // A failed run may leave the session in any state: the Pool drops that connection.
        if (isPool) connection.release?.(broken);
      }
    }),
  );
}
