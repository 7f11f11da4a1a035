import type { Safeguards } from '@db-safeguards/core';
import type { DrizzleConfig } from 'drizzle-orm';
import { drizzle as drizzleNeonHttp, type NeonHttpDatabase } from 'drizzle-orm/neon-http';
import { InteractiveTransactionUnsupportedError } from '../errors/interactive-transaction-unsupported-error.js';
import { guardDrizzle } from '../internal/guard-drizzle.js';
import { attachMigrationTarget, createMigrationOrder } from '../internal/migration-order.js';
import { safeguardClient } from './session.js';

/** `drizzle()`'s config for Neon's HTTP driver, plus the safeguards. */
export type SafeguardedNeonHttpConfig<
  TSchema extends Record<string, unknown> = Record<string, never>,
  TClient extends object = object,
> = DrizzleConfig<TSchema> & {
  /** The query function returned by `neon(url)`. */
  client: TClient;
  /** The process's one Safeguards instance: every query of this database runs under it. */
  safeguards: Safeguards;
};

/**
 * drizzle-orm's `drizzle()` for Neon's HTTP driver (`neon(url)`) with every query under the
 * safeguards: each query is one HTTP request holding one slot while in flight (the deadline aborts it),
 * `db.batch([...])` (one non-interactive transaction) holds one slot, and `db.transaction()` rejects with
 * `InteractiveTransactionUnsupportedError` pointing to `db.batch`. Returns drizzle's own database type.
 *
 * @example
 * import { drizzle } from '@db-safeguards/drizzle/neon-http';
 * const db = drizzle({ client: neon(url), schema, safeguards });
 */
export function drizzle<
  TSchema extends Record<string, unknown> = Record<string, never>,
  TClient extends object = object,
>(config: SafeguardedNeonHttpConfig<TSchema, TClient>): NeonHttpDatabase<TSchema> & { $client: TClient } {
  const { client, safeguards, ...drizzleConfig } = config;
  const guarded = safeguardClient(client, safeguards);
  const order = createMigrationOrder('neon-http');
  const db = guardDrizzle(drizzleNeonHttp({ ...drizzleConfig, client: guarded as never }), {
    safeguards,
    owner: client,
    onUse: order.markUsed,
  });
  // drizzle's own error here is a plain Error, which the safeguards would report as INTERNAL/unexpected.
  Object.defineProperty(db, 'transaction', {
    configurable: true,
    writable: true,
    value: () => Promise.reject(new InteractiveTransactionUnsupportedError('neon-http')),
  });
  const batch = db.batch.bind(db);
  Object.defineProperty(db, 'batch', {
    configurable: true,
    writable: true,
    value: (...args: Parameters<typeof batch>) => {
      order.markUsed();
      return batch(...args);
    },
  });
  attachMigrationTarget(db, { driver: 'neon-http', order, safeguards, client });
  return db as unknown as NeonHttpDatabase<TSchema> & { $client: TClient };
}
