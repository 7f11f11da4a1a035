import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The top-level database was used inside one of its own transaction callbacks. That query would run
 * on another connection, outside the transaction (its writes would survive a rollback, it would not
 * see the transaction's uncommitted rows) and, with every slot of the budget held by transactions
 * doing the same, it would wait forever. Use the `tx` argument of the callback instead.
 */
export class TransactionMisuseError extends Error {
  override readonly name = 'TransactionMisuseError';

  constructor(what: string) {
    super(
      `${what} was called on the top-level database inside its own db.transaction() callback. ` +
        'Use the transaction handle passed to the callback (`tx`) instead: the top-level client runs ' +
        'on another connection, outside the transaction, and can deadlock the connection budget.',
    );
  }
}

/** True for a {@link TransactionMisuseError}, also from another installed copy of this module. */
export function isTransactionMisuseError(error: unknown): error is TransactionMisuseError {
  return error instanceof Error && error.name === 'TransactionMisuseError';
}

// The raw clients (one per database) whose transaction callback is running in this async context.
// Kept apart from the safeguards' own scope: a held slot does not mean a transaction (a caller may
// wrap several queries in one `safeguards.run`), and nested transactions of another database are fine.
const openTransactions = new AsyncLocalStorage<ReadonlySet<object>>();

/** Runs a transaction callback with `owner` marked as being inside its transaction. */
export function runInTransactionCallback<T>(owner: object, callback: () => T): T {
  const current = openTransactions.getStore();
  if (current?.has(owner)) return callback();
  const next = new Set(current);
  next.add(owner);
  return openTransactions.run(next, callback);
}

/** Whether this async context is inside a transaction callback of `owner`. */
export function isInTransactionCallback(owner: object): boolean {
  return openTransactions.getStore()?.has(owner) ?? false;
}

/**
 * A rejected promise with {@link TransactionMisuseError} when called from inside a transaction
 * callback of `owner`, else undefined. For wrappers of promise-returning methods, which must reject
 * rather than throw.
 */
export function misuseRejection(owner: object, what: string): Promise<never> | undefined {
  return isInTransactionCallback(owner) ? Promise.reject(new TransactionMisuseError(what)) : undefined;
}
