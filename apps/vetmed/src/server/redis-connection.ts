import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/**
 * The one place the app connects to Redis (REDIS_URL): the shared connection budget, the shared
 * rate-limit store and anything else that needs Redis take their client from here, each passing the
 * options its use needs over these defaults (a queue worker's blocking connection wants
 * `maxRetriesPerRequest: null`, for instance).
 *
 * Defaults suit calls that must fail fast rather than wait for a Redis that is down: no offline queue
 * (a command sent while disconnected fails at once, and the budget falls back), one retry per
 * command, reconnection every 100 ms to 2 s. Connection errors are logged at most once per 10 s per
 * client: a Redis outage is a state, reported by health, not a stream of lines.
 */
export function connectRedis(url: string, log: Logger, options: RedisOptions = {}): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectionName: 'vetmed',
    retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
    ...options,
  });
  let lastLoggedAt = 0;
  client.on('error', (error: Error) => {
    const now = Date.now();
    if (now - lastLoggedAt < 10_000) return;
    lastLoggedAt = now;
    log.warn({ error: error.message }, 'Redis connection error');
  });
  return client;
}
