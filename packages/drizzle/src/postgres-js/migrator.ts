import { drizzle as drizzlePostgresJs, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { migrate as applyMigrations } from 'drizzle-orm/postgres-js/migrator';
import type { ReservedSql, Sql } from 'postgres';
import { migrationTargetOf } from '../internal/migration-order.js';
import {
  drizzleMigrationConfig,
  migrationLockKey,
  runMigration,
  type SafeguardedMigrationConfig,
} from '../internal/migration-run.js';
import { onAbort } from '../internal/run-context.js';

/**
 * Applies drizzle's pending migrations (in one transaction) on ONE connection of the client's own pool,
 * holding one slot of the budget for the whole run, behind a session-level advisory lock so instances
 * starting together take turns. Call it at start: once the database has served a query it rejects with
 * `MigrationOrderError`.
 *
 * @example
 * await migrate(db, { migrationsFolder: './drizzle' });
 */
export function migrate(
  // biome-ignore lint/suspicious/noExplicitAny: any schema
  db: PostgresJsDatabase<any>,
  config: SafeguardedMigrationConfig,
): Promise<void> {
  const target = migrationTargetOf(db, 'postgres-js');
  const raw = target.client as Sql;
  return runMigration(target, config, async (signal) => {
    const reserved = await raw.reserve();
    const detach = onAbort(signal, () => reserved.release());
    const key = migrationLockKey(config);
    try {
      await reserved`select pg_advisory_lock(hashtext(${key}))`;
      try {
        await applyMigrations(
          drizzlePostgresJs({ client: onOneConnection(reserved, raw) }),
          drizzleMigrationConfig(config),
        );
      } finally {
        await reserved`select pg_advisory_unlock(hashtext(${key}))`;
      }
    } finally {
      detach();
      reserved.release();
    }
  });
}

/**
 * A client for drizzle whose every statement, transactions included, runs on `reserved`: a reserved
 * postgres.js connection has no `begin`, so BEGIN / COMMIT / ROLLBACK are sent as statements.
 */
function onOneConnection(reserved: ReservedSql, raw: Sql): Sql {
  const begin = async (...args: unknown[]) => {
    const callback = args.pop() as (sql: unknown) => unknown;
    await reserved.unsafe('begin');
    try {
      const result = await callback(client);
      await reserved.unsafe('commit');
      return result;
    } catch (error) {
      await reserved.unsafe('rollback');
      throw error;
    }
  };
  const client: unknown = new Proxy(reserved, {
    get(target, property) {
      if (property === 'begin') return begin;
      if (property === 'options') return raw.options; // drizzle sets its parsers there
      return Reflect.get(target, property);
    },
  });
  return client as Sql;
}
