import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate as applyMigrations } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import type { AppDatabase, Database } from '../database.js';
import { isPooledUrl } from '../database-config.js';
import { type DriverOptions, migrationLockKey } from '../driver-options.js';
import { closeIdleConnectionsOnLimitDrop } from '../safeguarded/close-idle-connections.js';
import { countRoleConnections, probeDatabase } from '../safeguarded/common-queries.js';
import { guardDrizzle } from '../safeguarded/guard-drizzle.js';
import { migrationContext } from '../safeguarded/migration-context.js';
import { migrationOrder } from '../safeguarded/migration-order.js';
import { onAbort } from '../safeguarded/run-context.js';
import * as schema from '../schema/index.js';
import { safeguardPostgresJs } from './client.js';

const ignoreNotice = () => {};

/**
 * PostgreSQL over TCP with postgres.js. The pool never exceeds the budget; `statement_timeout` is a
 * startup parameter (a server-side backstop for every statement) unless the URL is a PgBouncer
 * (`-pooler`) endpoint, which refuses it: there each transaction sets it with `SET LOCAL`.
 */
export async function createPostgresJsDatabase(options: DriverOptions): Promise<Database> {
  const { config, safeguards } = options;
  const url = config.url!;
  const pooled = isPooledUrl(url);
  const timeout = config.statementTimeoutMs;
  const sql = postgres(url, {
    max: options.poolMax,
    idle_timeout: options.idleTimeoutSeconds || undefined,
    connect_timeout: 10,
    onnotice: ignoreNotice,
    connection: {
      application_name: options.applicationName,
      ...(timeout > 0 && !pooled ? { statement_timeout: timeout } : {}),
    },
  });
  const client = safeguardPostgresJs(sql, safeguards);
  // postgres.js 3.4 has `close()` at run time (it ends every connection gracefully; the pool stays
  // usable) but not in its type declarations. Without it, idle connections wait for `idle_timeout`.
  const closeConnections = (sql as unknown as { close?: () => Promise<void> }).close;
  const stopClosingIdle =
    typeof closeConnections === 'function'
      ? closeIdleConnectionsOnLimitDrop(safeguards, () => closeConnections())
      : () => {};
  const order = migrationOrder('postgres');
  const db = guardDrizzle(drizzle({ client, schema }), {
    safeguards,
    owner: sql,
    onUse: order.markUsed,
    transactionStatementTimeoutMs: timeout > 0 && pooled ? timeout : undefined,
  }) as unknown as AppDatabase;

  return {
    db,
    driver: 'postgres',
    safeguards,
    migrate: () =>
      order.guard(() =>
        safeguards.run(async (scope) => {
          // One connection of its own, over the direct URL: a session-level advisory lock needs one.
          const migrator = postgres(config.unpooledUrl ?? url, {
            max: 1,
            onnotice: ignoreNotice,
            connection: { application_name: `${options.applicationName}-migrate` },
          });
          const detach = onAbort(scope.signal, () => void migrator.end({ timeout: 0 }));
          try {
            await migrator`select pg_advisory_lock(${String(migrationLockKey)}::bigint)`;
            await applyMigrations(drizzle({ client: migrator }), {
              migrationsFolder: options.migrationsFolder,
            });
            await migrator`select pg_advisory_unlock(${String(migrationLockKey)}::bigint)`;
          } finally {
            detach();
            await migrator.end({ timeout: 5 });
          }
        }, migrationContext(options.migrationTimeoutMs)),
      ),
    probe: (signal) => probeDatabase(db, safeguards, signal),
    countConnections: () => countRoleConnections(db),
    close: () => {
      stopClosingIdle();
      return sql.end({ timeout: 5 });
    },
  };
}
