/**
 * Thrown by the server-control methods of a {@link TestRedis} (`stopServer`, `killServer`,
 * `freezeServer`, ...) when the handle runs on a Redis it did not start (`TEST_REDIS_URL` or the
 * `externalUrl` option). Check `handle.canControlServer` to skip such tests up front.
 */
export class RedisServerControlUnsupportedError extends Error {
  override readonly name = 'RedisServerControlUnsupportedError' as const;
  /** The method that was called. */
  readonly operation: string;

  constructor(operation: string) {
    super(
      `${operation}() is not supported: this TestRedis runs on an external server (TEST_REDIS_URL), which ` +
        'it cannot stop, start or freeze. Skip the test when handle.canControlServer is false.',
    );
    this.operation = operation;
  }
}

/** True for a {@link RedisServerControlUnsupportedError}, also one from another copy of this package. */
export function isRedisServerControlUnsupportedError(
  error: unknown,
): error is RedisServerControlUnsupportedError {
  return error instanceof Error && error.name === 'RedisServerControlUnsupportedError';
}
