import type { Safeguards } from '@db-safeguards/core';
import type { DrizzleConfig } from 'drizzle-orm';
import { drizzle as drizzlePglite, type PgliteDatabase } from 'drizzle-orm/pglite';
import { guardDrizzle } from '../internal/guard-drizzle.js';
import { attachMigrationTarget, createMigrationOrder } from '../internal/migration-order.js';
import { safeguardClient } from './session.js';

/** `drizzle()`'s config for PGlite, plus the safeguards. */
export type SafeguardedPgliteConfig<
  TSchema extends Record<string, unknown> = Record<string, never>,
  TClient extends object = object,
> = DrizzleConfig<TSchema> & {
  /** An open PGlite instance. */
  client: TClient;
  /** The process's one Safeguards instance: every query of this database runs under it. */
  safeguards: Safeguards;
};

/**
 * drizzle-orm's `drizzle()` for PGlite (PostgreSQL in this process, one connection) with every query
 * under the safeguards. A deadline cannot stop a running PGlite statement: the caller gets TIMEOUT and
 * the slot comes back when the statement ends. Returns drizzle's own database type.
 *
 * @example
 * import { drizzle } from '@db-safeguards/drizzle/pglite';
 * const db = drizzle({ client: new PGlite(), schema, safeguards });
 */
export function drizzle<
  TSchema extends Record<string, unknown> = Record<string, never>,
  TClient extends object = object,
>(config: SafeguardedPgliteConfig<TSchema, TClient>): PgliteDatabase<TSchema> & { $client: TClient } {
  const { client, safeguards, ...drizzleConfig } = config;
  const guarded = safeguardClient(client, safeguards);
  const order = createMigrationOrder('pglite');
  const db = guardDrizzle(drizzlePglite({ ...drizzleConfig, client: guarded as never }), {
    safeguards,
    owner: client,
    onUse: order.markUsed,
  });
  attachMigrationTarget(db, { driver: 'pglite', order, safeguards, client });
  return db as unknown as PgliteDatabase<TSchema> & { $client: TClient };
}
