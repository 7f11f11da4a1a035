/**
 * Thrown by the server-control methods of a {@link TestPostgres} (`stopServer`, `startServer`,
 * `restartServer`) when the handle runs on a server it did not start (`TEST_DATABASE_URL` or the
 * `externalUrl` option). Check `handle.canControlServer` to skip such tests up front.
 */
export class ServerControlUnsupportedError extends Error {
  override readonly name = 'ServerControlUnsupportedError' as const;
  /** The method that was called. */
  readonly operation: string;

  constructor(operation: string) {
    super(
      `${operation}() is not supported: this TestPostgres runs on an external server (TEST_DATABASE_URL), ` +
        'which it cannot stop or start. Skip the test when handle.canControlServer is false.',
    );
    this.operation = operation;
  }
}

/** True for a {@link ServerControlUnsupportedError}, also one from another copy of this package. */
export function isServerControlUnsupportedError(error: unknown): error is ServerControlUnsupportedError {
  return error instanceof Error && error.name === 'ServerControlUnsupportedError';
}
