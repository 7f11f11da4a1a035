import { RedisScript, type RedisScriptClient } from '../internal/redis-script.js';
import { assertString } from '../internal/validate.js';
import { allocationArguments, allocationLua, budgetKeys, parseAllocationReply } from './allocation-script.js';
import {
  type BudgetExchange,
  type LeasedBudgetOptions,
  LeasedConnectionBudget,
} from './leased-connection-budget.js';
import { isConnectionAwareClient, RedisBudgetConnection } from './redis-budget-connection.js';

/** Options of {@link createRedisBudget}: the client, the key, and the lease timing. */
export interface RedisBudgetOptions extends LeasedBudgetOptions {
  /**
   * An ioredis `Redis` or `Cluster` (5 or 6). Give it a `commandTimeout` or not: the budget times out
   * its own calls (`requestTimeoutMs`). Its offline queue is harmless: a call queued while Redis is
   * down is answered late or never, and a late answer is recognised and ignored.
   */
  client: RedisScriptClient;
  /**
   * Names the budget in Redis: every instance sharing one database passes the same key (and the same
   * capacity and lease timing). Default `db-safeguards:budget`.
   */
  key?: string;
  /**
   * Return a dead instance's slots as soon as its Redis connection is gone and its lease has gone
   * unrenewed for `staleMs`, instead of when the lease runs out. Default true on a standalone ioredis
   * `Redis`; a `Cluster` always keeps to lease expiry. Set it to false when Redis sits behind a proxy
   * that pools its own connections to Redis (twemproxy, Envoy, some managed offerings): there a
   * connection id names the proxy's connection, not this process's, and may vanish while this process
   * lives on.
   */
  reclaimOnDisconnect?: boolean;
}

const script = new RedisScript(allocationLua);

/** The round trip of the production budget: one EVALSHA of the allocation script. */
export function redisBudgetExchange(client: RedisScriptClient, key: string): BudgetExchange {
  const keys = budgetKeys(key);
  return async (request) =>
    parseAllocationReply(await script.run(client, keys, allocationArguments(request)));
}

/**
 * One connection budget for every instance of an app, kept in Redis. Each instance holds a lease on a
 * number of slots, renewed in the background; capacity goes to the highest priorities first, across
 * instances; a crashed instance's slots return once its Redis connection is gone and its lease has gone
 * unrenewed for `staleMs` (or when the lease runs out, on a Cluster); without Redis an instance falls
 * back to a local limit and says so (`isDegraded`).
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { createRedisBudget } from '@db-safeguards/redis';
 *
 * const budget = createRedisBudget({ client: new Redis(process.env.REDIS_URL!), capacity: 8 });
 * await budget.ready();
 * budget.reportDemand({ inUse: 0, wanted: { HIGH: 2 } });
 * budget.limit; // slots this instance may hold now
 * ```
 */
export function createRedisBudget(options: RedisBudgetOptions): LeasedConnectionBudget {
  const key = options.key ?? 'db-safeguards:budget';
  assertString('key', key, /^[^{}\s]{1,200}$/, 'a Redis key name without braces or spaces');
  if (typeof options.client?.evalsha !== 'function' || typeof options.client.eval !== 'function') {
    throw new TypeError('Expected client to be an ioredis Redis or Cluster (with evalsha and eval)');
  }
  const connection =
    options.reclaimOnDisconnect !== false && isConnectionAwareClient(options.client)
      ? new RedisBudgetConnection(options.client, key)
      : undefined;
  return new LeasedConnectionBudget(options, redisBudgetExchange(options.client, key), connection);
}
