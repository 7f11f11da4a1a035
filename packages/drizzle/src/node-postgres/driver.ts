import type { Safeguards } from '@db-safeguards/core';
import type { DrizzleConfig } from 'drizzle-orm';
import { drizzle as drizzleNodePostgres, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { guardDrizzle } from '../internal/guard-drizzle.js';
import { attachMigrationTarget, createMigrationOrder } from '../internal/migration-order.js';
import { assertPoolWithinBudget } from '../internal/pool-size.js';
import { exclusiveUseOf, type SafeguardPgClientOptions, safeguardClient } from './session.js';

/** `drizzle()`'s config for node-postgres, plus the safeguards. */
export type SafeguardedNodePgConfig<
  TSchema extends Record<string, unknown> = Record<string, never>,
  TClient extends object = object,
> = DrizzleConfig<TSchema> &
  SafeguardPgClientOptions & {
    /** A pg `Pool` (its `max` may not exceed the budget) or a single pg `Client`. */
    client: TClient;
    /** The process's one Safeguards instance: every query of this database runs under it. */
    safeguards: Safeguards;
    /**
     * Starts each transaction with `SET LOCAL statement_timeout` to this many ms (or less when the
     * deadline is nearer), for PgBouncer endpoints that refuse startup parameters. Default: none.
     */
    transactionStatementTimeoutMs?: number;
  };

/**
 * drizzle-orm's `drizzle()` for node-postgres (`pg` Pool or Client) with every query under the
 * safeguards: each top-level statement is one `safeguards.run`, each `db.transaction` holds one slot
 * (and one pooled client) for its whole life, a deadline cancels the running statement on the server,
 * and errors reach the caller as `SafeguardError`s. Returns drizzle's own database type.
 *
 * @example
 * import { drizzle } from '@db-safeguards/drizzle/node-postgres';
 * const db = drizzle({ client: new Pool({ connectionString: url, max: 8 }), schema, safeguards });
 *
 * @throws UnsupportedDriverError when `client` is not a pg Pool or Client; TypeError for a Pool `max`
 * above the budget or a bad option.
 */
export function drizzle<
  TSchema extends Record<string, unknown> = Record<string, never>,
  TClient extends object = object,
>(config: SafeguardedNodePgConfig<TSchema, TClient>): NodePgDatabase<TSchema> & { $client: TClient } {
  const { client, safeguards, statementTimeoutMs, transactionStatementTimeoutMs, ...drizzleConfig } = config;
  const guarded = safeguardClient(client, safeguards, { statementTimeoutMs });
  // pg's Pool defaults to 10 connections: more than the default budget, so a Pool must say its max.
  const poolOptions = (client as { options?: { max?: unknown } }).options;
  if (poolOptions !== undefined) assertPoolWithinBudget('the pg Pool max', poolOptions.max ?? 10, safeguards);
  const order = createMigrationOrder('node-postgres');
  const db = guardDrizzle(drizzleNodePostgres({ ...drizzleConfig, client: guarded as never }), {
    safeguards,
    owner: client,
    // A lone Client is one connection: a transaction on it must keep other callers out until it ends.
    exclusive: poolOptions === undefined ? exclusiveUseOf(client) : undefined,
    onUse: order.markUsed,
    transactionStatementTimeoutMs,
  });
  attachMigrationTarget(db, { driver: 'node-postgres', order, safeguards, client });
  return db as unknown as NodePgDatabase<TSchema> & { $client: TClient };
}
