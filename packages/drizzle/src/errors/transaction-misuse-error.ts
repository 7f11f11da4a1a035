/**
 * The top-level database was used inside one of its own transaction callbacks. That query would run on
 * another connection, outside the transaction (its writes would survive a rollback, it would not see the
 * transaction's uncommitted rows) and, with every slot of the budget held by transactions doing the
 * same, it would wait forever. Use the `tx` argument of the callback instead.
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

/** True for a {@link TransactionMisuseError}, also from another installed copy of this package. */
export function isTransactionMisuseError(error: unknown): error is TransactionMisuseError {
  return error instanceof Error && error.name === 'TransactionMisuseError';
}
