import { Redis, type RedisOptions } from 'ioredis';

/**
 * What a connection is for: `commands` answer or fail at once (adding a deferred dose while Redis is
 * down must fail the request, not hang it: no offline queue, one try); `blocking` wait for work (a
 * BullMQ worker's connection, which BullMQ requires to retry every command for ever).
 */
export type RedisConnectionRole = 'commands' | 'blocking';

/**
 * The app's one way to open a Redis connection: every Redis client of the app is made here, so their
 * settings (and a shared budget's, later) are in one place. Connects lazily; the caller attaches an
 * `error` listener (ioredis emits one per failed reconnect, and an unheard one would end the process).
 */
export function createRedisConnection(url: string, role: RedisConnectionRole): Redis {
  const options: RedisOptions =
    role === 'commands'
      ? {
          lazyConnect: true,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          retryStrategy: reconnectDelay,
        }
      : { lazyConnect: true, maxRetriesPerRequest: null, retryStrategy: reconnectDelay };
  return new Redis(url, options);
}

/** Reconnect soon after Redis comes back, without hammering it while it is away: 50 ms, up to 1 s. */
function reconnectDelay(attempt: number): number {
  return Math.min(50 * attempt, 1000);
}
