import { setTimeout as sleep } from 'node:timers/promises';
import type { RateLimitStore, SharedConnectionBudget } from '@db-safeguards/core';
import { createRedisBudget, type RedisBudgetOptions, RedisRateLimitStore } from '@db-safeguards/redis';
import type { Logger } from 'pino';
import type { AppConfig } from '../env.js';
import { connectRedis } from './redis-connection.js';

/** What REDIS_URL switches on: one connection budget and one set of rate limits for every instance. */
export interface SharedCapacity {
  /** For `createSafeguards({ shared })`. */
  readonly budget: SharedConnectionBudget;
  /** For `rateLimits.store`. */
  readonly store: RateLimitStore;
  /** The capacity all instances share. */
  readonly capacity: number;
  /** Disconnects from Redis (after `safeguards.close()`, which gives the budget's slots back). */
  close(): Promise<void>;
}

/**
 * Connects to Redis and sets up the shared budget (key `<prefix>budget`) and the sliding-window
 * rate-limit store (keys `<prefix>rate:*`). Waits for the budget's first answer, or its fallback when
 * Redis cannot be reached: the app starts either way, degraded in the second case.
 */
export async function openSharedCapacity(
  redis: NonNullable<AppConfig['redis']>,
  budget: number,
  log: Logger,
  options: Pick<RedisBudgetOptions, 'releaseDelayMs'> = {},
): Promise<SharedCapacity> {
  // A connection for commands (no offline queue: a call while Redis is away fails at once and the
  // budget falls back), made where the app makes all its Redis connections, which logs its errors.
  const client = connectRedis(redis.url, log, { lazyConnect: true });
  // Give it a moment to connect first, or the budget would start on its fallback although Redis is there.
  await Promise.race([client.connect(), sleep(2000)]).catch(() => undefined);
  const capacity = redis.capacity ?? budget;
  const shared = createRedisBudget({
    ...options,
    client,
    key: `${redis.keyPrefix}budget`,
    capacity,
  });
  const subscription = shared.onModeChange((change) =>
    log[change.mode === 'fallback' ? 'warn' : 'info'](
      { mode: change.mode, previous: change.previous, reason: change.reason },
      'shared connection budget changed mode',
    ),
  );
  await shared.ready();
  return {
    budget: shared,
    store: new RedisRateLimitStore({ client, prefix: `${redis.keyPrefix}rate:` }),
    capacity,
    async close() {
      subscription.dispose();
      await shared.close();
      client.disconnect();
    },
  };
}
