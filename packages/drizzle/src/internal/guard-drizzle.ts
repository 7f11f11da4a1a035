import { isSafeguardError, type Safeguards } from '@db-safeguards/core';
import { sql } from 'drizzle-orm';
import { DrizzleQueryError } from 'drizzle-orm/errors';
import type { PgDatabase, PgQueryResultHKT, PgTransactionConfig } from 'drizzle-orm/pg-core';
import { isTransactionMisuseError } from '../errors/transaction-misuse-error.js';
import { UnsupportedDriverError } from '../errors/unsupported-driver-error.js';
import type { ExclusiveUse } from './exclusive-use.js';
import { contextOf, transactionContext } from './run-context.js';
import { misuseRejection, runInTransactionCallback } from './transaction-scope.js';

// biome-ignore lint/suspicious/noExplicitAny: any drizzle PostgreSQL database, whatever its schema
export type AnyPgDatabase = PgDatabase<PgQueryResultHKT, any, any>;

/** The drizzle-orm versions whose session internals this file relies on (`session.prepareQuery`). */
export const drizzleOrmRange = '>=0.44.0 <1';

export interface GuardDrizzleOptions {
  safeguards: Safeguards;
  /** The raw driver client: the identity the transaction-misuse check keys on. */
  owner: object;
  /**
   * When set, each transaction starts with `SET LOCAL statement_timeout` to this many ms (or less, when
   * the deadline is nearer). For endpoints that refuse startup parameters (PgBouncer, Neon `-pooler`).
   */
  transactionStatementTimeoutMs?: number | undefined;
  /**
   * Wraps each whole transaction (inside its slot): a driver whose client is one shared connection
   * passes a lock here, so other callers' statements cannot run inside the transaction.
   */
  exclusive?: ExclusiveUse | undefined;
  /** Called whenever a query or transaction starts (so `migrate()` can tell it is no longer first). */
  onUse?: (() => void) | undefined;
}

/**
 * Finishes the safeguarding of a drizzle database whose client is already wrapped:
 *
 * - `db.transaction(fn)` becomes ONE `safeguards.run` holding one slot for the transaction's life, with
 *   `fn` running inside it (nested `safeguards.run` calls reuse the slot, and the top-level `db` used
 *   inside `fn` is caught). The client-level wrappers see the nested call and take no second slot. A
 *   `read only` transaction runs as a read.
 * - A top-level query's error reaches the caller as the `SafeguardError` that `run` rejected with
 *   (drizzle would wrap it in a `DrizzleQueryError` whose message holds the SQL and parameters).
 */
export function guardDrizzle<D extends AnyPgDatabase>(db: D, options: GuardDrizzleOptions): D {
  const { safeguards, owner, transactionStatementTimeoutMs, onUse } = options;
  const claimTurn: ExclusiveUse = options.exclusive ?? (() => (work) => work());
  surfaceSafeguardErrors(db, onUse);
  const transaction = db.transaction.bind(db);
  const guarded: AnyPgDatabase['transaction'] = (callback, config) => {
    const misuse = misuseRejection(owner, 'db.transaction()');
    if (misuse) return misuse;
    onUse?.();
    const context = config?.accessMode === 'read only' ? contextOf('read') : transactionContext;
    const exclusive = claimTurn();
    return safeguards
      .run(
        (scope) =>
          exclusive(() =>
            transaction(
              async (tx) => {
                if (transactionStatementTimeoutMs !== undefined) {
                  const ms = Math.max(
                    1,
                    Math.min(transactionStatementTimeoutMs, Math.ceil(scope.remainingMs())),
                  );
                  await tx.execute(sql`select set_config('statement_timeout', ${String(ms)}, true)`);
                }
                return runInTransactionCallback(owner, () => callback(tx));
              },
              config as PgTransactionConfig | undefined,
            ),
          ),
        context,
      )
      .catch((error: unknown) => {
        // The developer's mistake reads better as itself than as an INTERNAL SafeguardError.
        const cause = isSafeguardError(error) ? error.cause : undefined;
        throw isTransactionMisuseError(cause) ? cause : error;
      });
  };
  Object.defineProperty(db, 'transaction', { value: guarded, configurable: true, writable: true });
  return db;
}

interface PreparedQueryLike {
  execute(...args: unknown[]): Promise<unknown>;
  all(...args: unknown[]): Promise<unknown>;
}

/**
 * Unwraps `DrizzleQueryError(cause: SafeguardError | TransactionMisuseError)` on top-level queries, and
 * reports each query run to `onUse`.
 */
function surfaceSafeguardErrors(db: AnyPgDatabase, onUse: (() => void) | undefined): void {
  const session = db._.session as unknown as { prepareQuery?: (...args: unknown[]) => PreparedQueryLike };
  const prepareQuery = session.prepareQuery;
  if (typeof prepareQuery !== 'function')
    throw new UnsupportedDriverError('drizzle-orm', drizzleOrmRange, 'its session has no prepareQuery()');
  session.prepareQuery = function prepareGuardedQuery(this: unknown, ...args: unknown[]) {
    const prepared = prepareQuery.apply(this, args);
    const { execute, all } = prepared;
    prepared.execute = (...a) => {
      onUse?.();
      return execute.apply(prepared, a).catch(surface);
    };
    prepared.all = (...a) => {
      onUse?.();
      return all.apply(prepared, a).catch(surface);
    };
    return prepared;
  };
}

function surface(error: unknown): never {
  if (error instanceof DrizzleQueryError) {
    const cause = error.cause;
    if (isSafeguardError(cause) || isTransactionMisuseError(cause)) throw cause;
  }
  throw error;
}
