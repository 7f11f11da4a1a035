import type { RateLimitDecision, RateLimitStore } from '@db-safeguards/core';
import { MemoryRateLimitStore } from '@db-safeguards/core/advanced';
import { RedisScript, type RedisScriptClient } from '../internal/redis-script.js';
import { assertInteger, assertString } from '../internal/validate.js';
import { slidingWindowLua } from './sliding-window-script.js';

/** Options of {@link RedisRateLimitStore}. */
export interface RedisRateLimitStoreOptions {
  /** An ioredis `Redis` or `Cluster` (5 or 6). */
  client: RedisScriptClient;
  /** Prefix of every key the store writes. Default `db-safeguards:rate:`. */
  prefix?: string;
  /**
   * Whose clock places a hit in the window. `redis` (default): Redis's own `TIME`, so instances with
   * skewed clocks still share one exact window; the `now` passed to `hit` is ignored. `caller`: the
   * `now` passed to `hit` (what the core's tests and a manual clock need; exact only as far as the
   * instances' clocks agree).
   */
  clock?: 'redis' | 'caller';
  /**
   * Where hits are counted while Redis fails or is slower than `timeoutMs`: per instance, so limits are
   * looser by up to the number of instances, but never off. Default: a `MemoryRateLimitStore`.
   * `false` lets the error reach the caller instead.
   */
  fallback?: RateLimitStore | false;
  /** A hit without an answer after this long uses the fallback. Default 500 ms. */
  timeoutMs?: number;
}

/** A live readout of a {@link RedisRateLimitStore}. */
export interface RedisRateLimitStoreStats {
  /** Hits decided by Redis. */
  hits: number;
  /** Hits decided by the fallback store because Redis failed or timed out. */
  fallbackHits: number;
  /** True when the last hit went to the fallback. */
  isDegraded: boolean;
  lastError: string | undefined;
}

const script = new RedisScript(slidingWindowLua);

/**
 * The core's `RateLimitStore` on Redis: exact sliding windows shared by every instance, decided and
 * counted in one atomic script (a sorted set of allowed hits per key). Pass it as `rateLimits.store`.
 *
 * Why not rate-limiter-flexible: its Redis limiters count fixed windows that start at a key's first hit
 * (a counter with a TTL), so twice the limit can pass around a window's edge; they count denied hits
 * too (a client hammering past its limit stays locked out longer), and take no caller time. The
 * contract of `RateLimitStore` (a sliding window, denied hits not counted, a `now` to decide at) is
 * none of those, so this store is a short script of its own. Its idea of an insurance limiter for
 * when Redis fails is kept: see `fallback`.
 *
 * Memory: one sorted-set member (~40 bytes) per allowed hit still in its window, so a limit of 100 per
 * minute costs at most ~4 KB per key; keys expire one window after their last allowed hit.
 *
 * @example
 * ```ts
 * const safeguards = createSafeguards({
 *   rateLimits: { store: new RedisRateLimitStore({ client: new Redis(process.env.REDIS_URL!) }) },
 * });
 * ```
 */
export class RedisRateLimitStore implements RateLimitStore {
  private readonly client: RedisScriptClient;
  private readonly prefix: string;
  private readonly useCallerClock: boolean;
  private readonly fallback: RateLimitStore | undefined;
  private readonly timeoutMs: number;
  private counters = { hits: 0, fallbackHits: 0 };
  private degraded = false;
  private lastError: string | undefined;

  constructor(options: RedisRateLimitStoreOptions) {
    if (typeof options.client?.evalsha !== 'function' || typeof options.client.eval !== 'function') {
      throw new TypeError('Expected client to be an ioredis Redis or Cluster (with evalsha and eval)');
    }
    this.client = options.client;
    this.prefix = options.prefix ?? 'db-safeguards:rate:';
    assertString('prefix', this.prefix, /^[^{}\s]{0,200}$/, 'a key prefix without braces or spaces');
    if (options.clock !== undefined && options.clock !== 'redis' && options.clock !== 'caller') {
      throw new TypeError(`Expected clock to be "redis" or "caller", got ${JSON.stringify(options.clock)}`);
    }
    this.useCallerClock = options.clock === 'caller';
    this.fallback = options.fallback === false ? undefined : (options.fallback ?? new MemoryRateLimitStore());
    this.timeoutMs = options.timeoutMs ?? 500;
    assertInteger('timeoutMs', this.timeoutMs, 1);
  }

  /** True while hits are counted by the fallback because Redis failed. */
  get isDegraded(): boolean {
    return this.degraded;
  }

  stats(): RedisRateLimitStoreStats {
    return { ...this.counters, isDegraded: this.degraded, lastError: this.lastError };
  }

  async hit(key: string, limit: number, windowMs: number, now: number): Promise<RateLimitDecision> {
    try {
      const decision = await this.hitRedis(key, limit, windowMs, now);
      this.counters.hits += 1;
      this.degraded = false;
      this.lastError = undefined;
      return decision;
    } catch (error) {
      if (this.fallback === undefined) throw error;
      this.counters.fallbackHits += 1;
      this.degraded = true;
      this.lastError = error instanceof Error ? error.message : String(error);
      return this.fallback.hit(key, limit, windowMs, now);
    }
  }

  async reset(key: string): Promise<void> {
    await this.fallback?.reset(key);
    const [windowKey, sequenceKey] = this.keysOf(key);
    await this.client.del(windowKey, sequenceKey);
  }

  /** Both keys of one rate-limit key, in one hash slot. */
  private keysOf(key: string): [string, string] {
    const tagged = `${this.prefix}{${key}}`;
    return [tagged, `${tagged}:seq`];
  }

  private hitRedis(key: string, limit: number, windowMs: number, now: number): Promise<RateLimitDecision> {
    // The TTL only collects garbage. With the caller's clock, hits may be placed at times unrelated to
    // Redis's, so the keys are kept a minute longer than the window.
    const ttlMs = Math.ceil(windowMs) + (this.useCallerClock ? 60_000 : 1000);
    const run = script.run(this.client, this.keysOf(key), [
      String(limit),
      String(windowMs),
      this.useCallerClock ? String(now) : '',
      String(ttlMs),
    ]);
    return new Promise<RateLimitDecision>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no answer from Redis within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      timer.unref();
      run.then(
        (raw) => {
          clearTimeout(timer);
          const [allowed, count, resetAt, retryAfterMs] = raw as [number, number, string, string | number];
          resolve({
            allowed: Number(allowed) === 1,
            count: Number(count),
            resetAt: Number(resetAt),
            retryAfterMs: Number(retryAfterMs),
          });
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }
}
