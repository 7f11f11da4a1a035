import type { Safeguards } from '@db-safeguards/core';
import type { DrizzleConfig } from 'drizzle-orm';
import { drizzle as drizzleNeonServerless, type NeonDatabase } from 'drizzle-orm/neon-serverless';
import { guardDrizzle } from '../internal/guard-drizzle.js';
import { attachMigrationTarget, createMigrationOrder } from '../internal/migration-order.js';
import { assertPoolWithinBudget } from '../internal/pool-size.js';
import { exclusiveUseOf, type SafeguardPgClientOptions } from '../node-postgres/session.js';
import { safeguardClient } from './session.js';

/** `drizzle()`'s config for Neon's WebSocket driver, plus the safeguards. */
export type SafeguardedNeonServerlessConfig<
  TSchema extends Record<string, unknown> = Record<string, never>,
  TClient extends object = object,
> = DrizzleConfig<TSchema> &
  SafeguardPgClientOptions & {
    /** A `Pool` (its `max` may not exceed the budget) or a `Client` of `@neondatabase/serverless`. */
    client: TClient;
    /** The process's one Safeguards instance: every query of this database runs under it. */
    safeguards: Safeguards;
    /**
     * Starts each transaction with `SET LOCAL statement_timeout` to this many ms (or less when the
     * deadline is nearer). Neon `-pooler` hosts refuse startup parameters: pass
     * `statementTimeoutMs: false` with this there. Default: none.
     */
    transactionStatementTimeoutMs?: number;
  };

/**
 * drizzle-orm's `drizzle()` for `@neondatabase/serverless`'s WebSocket `Pool` (interactive transactions)
 * with every query under the safeguards; the same behaviour as `/node-postgres` (Neon's Pool is pg's).
 * Returns drizzle's own database type.
 *
 * @example
 * import { drizzle } from '@db-safeguards/drizzle/neon-serverless';
 * const db = drizzle({ client: new Pool({ connectionString: url, max: 8 }), schema, safeguards });
 */
export function drizzle<
  TSchema extends Record<string, unknown> = Record<string, never>,
  TClient extends object = object,
>(config: SafeguardedNeonServerlessConfig<TSchema, TClient>): NeonDatabase<TSchema> & { $client: TClient } {
  const { client, safeguards, statementTimeoutMs, transactionStatementTimeoutMs, ...drizzleConfig } = config;
  const guarded = safeguardClient(client, safeguards, { statementTimeoutMs });
  const poolOptions = (client as { options?: { max?: unknown } }).options;
  if (poolOptions !== undefined)
    assertPoolWithinBudget('the Neon Pool max', poolOptions.max ?? 10, safeguards);
  const order = createMigrationOrder('neon-serverless');
  const db = guardDrizzle(drizzleNeonServerless({ ...drizzleConfig, client: guarded as never }), {
    safeguards,
    owner: client,
    exclusive: poolOptions === undefined ? exclusiveUseOf(client) : undefined,
    onUse: order.markUsed,
    transactionStatementTimeoutMs,
  });
  attachMigrationTarget(db, { driver: 'neon-serverless', order, safeguards, client });
  return db as unknown as NeonDatabase<TSchema> & { $client: TClient };
}
