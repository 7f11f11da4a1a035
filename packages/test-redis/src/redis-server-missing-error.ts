/**
 * Thrown before any server starts when no `redis-server` binary can be found and this process cannot
 * install one (it is not root, or `apt-get install -y redis-server` failed). The message says what to
 * run; `TEST_REDIS_URL` pointing at a Redis of your own avoids the binary altogether.
 */
export class RedisServerMissingError extends Error {
  override readonly name = 'RedisServerMissingError' as const;
  /** The directories that were searched. */
  readonly searched: readonly string[];

  constructor(searched: readonly string[], detail: string) {
    super(
      `No redis-server binary was found (searched ${searched.join(', ')}) and ${detail}. Install it with ` +
        '`sudo apt-get install -y redis-server` (Debian/Ubuntu) or your system’s package manager, or set ' +
        'TEST_REDIS_URL to a Redis the tests may use (they only touch keys under their own random prefix).',
    );
    this.searched = searched;
  }
}

/** True for a {@link RedisServerMissingError}, also one from another copy of this package. */
export function isRedisServerMissingError(error: unknown): error is RedisServerMissingError {
  return error instanceof Error && error.name === 'RedisServerMissingError';
}
