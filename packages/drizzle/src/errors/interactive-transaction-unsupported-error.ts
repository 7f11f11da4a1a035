/**
 * `db.transaction()` was called on a driver that has no interactive transactions (Neon's HTTP driver:
 * each query is one HTTP request, so nothing can hold a transaction open between two of them). Run the
 * statements together with `db.batch([...])`, which the driver sends as one non-interactive
 * transaction, or use `@db-safeguards/drizzle/neon-serverless` (WebSocket) for interactive ones.
 */
export class InteractiveTransactionUnsupportedError extends Error {
  override readonly name = 'InteractiveTransactionUnsupportedError';

  constructor(
    /** The drizzle driver name, e.g. `neon-http`. */
    readonly driver: string,
  ) {
    super(
      `db.transaction() is not supported by the ${driver} driver: each query is a separate HTTP request. ` +
        'Use db.batch([...]) to run statements in one transaction, or the neon-serverless (WebSocket) ' +
        'driver for interactive transactions.',
    );
  }
}

/** True for an {@link InteractiveTransactionUnsupportedError}, also from another installed copy. */
export function isInteractiveTransactionUnsupportedError(
  error: unknown,
): error is InteractiveTransactionUnsupportedError {
  return error instanceof Error && error.name === 'InteractiveTransactionUnsupportedError';
}
