import { TransactionMisuseError } from '../errors/transaction-misuse-error.js';
import { createAsyncStorage } from './async-storage.js';

// The raw clients (one per database) whose transaction callback is running in this async context.
// Kept apart from the safeguards' own scope: a held slot does not mean a transaction (a caller may wrap
// several queries in one `safeguards.run`), and a transaction of another database inside is fine.
const openTransactions = createAsyncStorage<ReadonlySet<object>>();

/** Runs a transaction callback with `owner` marked as being inside its transaction. */
export function runInTransactionCallback<T>(owner: object, callback: () => T): T {
  if (openTransactions === undefined) return callback();
  const current = openTransactions.getStore();
  if (current?.has(owner)) return callback();
  const next = new Set(current);
  next.add(owner);
  return openTransactions.run(next, callback);
}

/** Whether this async context is inside a transaction callback of `owner`. */
export function isInTransactionCallback(owner: object): boolean {
  return openTransactions?.getStore()?.has(owner) ?? false;
}

/**
 * A rejected promise with {@link TransactionMisuseError} when called from inside a transaction callback
 * of `owner`, else undefined. For wrappers of promise-returning methods, which must reject, not throw.
 */
export function misuseRejection(owner: object, what: string): Promise<never> | undefined {
  return isInTransactionCallback(owner) ? Promise.reject(new TransactionMisuseError(what)) : undefined;
}
