import type { Safeguards } from '@db-safeguards/core';
import type { DrizzleConfig } from 'drizzle-orm';
import { drizzle as drizzlePostgresJs, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import type { Sql } from 'postgres';
import { guardDrizzle } from '../internal/guard-drizzle.js';
import { attachMigrationTarget, createMigrationOrder } from '../internal/migration-order.js';
import { assertPoolWithinBudget } from '../internal/pool-size.js';
import { type SafeguardClientOptions, safeguardClient } from './session.js';

/** `drizzle()`'s config for postgres.js, plus the safeguards. */
export type SafeguardedPostgresJsConfig<
  TSchema extends Record<string, unknown> = Record<string, never>,
  TClient extends Sql = Sql,
> = DrizzleConfig<TSchema> &
  SafeguardClientOptions & {
    /** A postgres.js client; its `max` may not exceed the budget. */
    client: TClient;
    /** The process's one Safeguards instance: every query of this database runs under it. */
    safeguards: Safeguards;
    /**
     * Starts each transaction with `SET LOCAL statement_timeout` to this many ms (or less when the
     * deadline is nearer). For PgBouncer and Neon `-pooler` endpoints, which refuse startup parameters:
     * pass `statementTimeoutMs: false` with it. Default: none.
     */
    transactionStatementTimeoutMs?: number;
  };

/**
 * drizzle-orm's `drizzle()` for postgres.js with every query under the safeguards: each top-level
 * statement is one `safeguards.run`, each `db.transaction` holds one slot for its whole life (nested
 * transactions and `safeguards.run` calls inside reuse it), a deadline cancels the running statement on
 * the server, and errors reach the caller as `SafeguardError`s. Returns drizzle's own database type.
 *
 * @example
 * import { drizzle } from '@db-safeguards/drizzle/postgres-js';
 * const db = drizzle({ client: postgres(url, { max: 8 }), schema, safeguards });
 *
 * @throws UnsupportedDriverError for a postgres.js outside `>=3.4.0 <5`; TypeError for a `max` above the
 * budget or a bad option.
 */
export function drizzle<
  TSchema extends Record<string, unknown> = Record<string, never>,
  TClient extends Sql = Sql,
>(config: SafeguardedPostgresJsConfig<TSchema, TClient>): PostgresJsDatabase<TSchema> & { $client: TClient } {
  const { client, safeguards, statementTimeoutMs, transactionStatementTimeoutMs, ...drizzleConfig } = config;
  assertPoolWithinBudget('the postgres.js client max', (client.options as { max?: unknown }).max, safeguards);
  const guarded = safeguardClient(client, safeguards, { statementTimeoutMs });
  const order = createMigrationOrder('postgres-js');
  const db = guardDrizzle(drizzlePostgresJs({ ...drizzleConfig, client: guarded }), {
    safeguards,
    owner: client,
    onUse: order.markUsed,
    transactionStatementTimeoutMs,
  });
  attachMigrationTarget(db, { driver: 'postgres-js', order, safeguards, client });
  return db;
}
