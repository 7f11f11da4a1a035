import { RateLimiter } from '@db-safeguards/core/advanced';
import { startTestRedis, type TestRedis } from '@db-safeguards/test-redis';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRateLimitStoreContract } from '../../core/test/contract/rate-limit-store-contract.js';
import { RedisRateLimitStore } from '../src/index.js';

let redis: TestRedis;
let client: Redis;
let stores = 0;

beforeAll(async () => {
  redis = await startTestRedis();
  client = await redis.connect();
});
afterAll(() => redis.stop());

// The core's contract drives time by hand, so it runs on the caller's clock; an exact store: no slack.
describeRateLimitStoreContract('RedisRateLimitStore (caller clock, real Redis)', {
  create: () =>
    new RedisRateLimitStore({
      client,
      prefix: `${redis.keyPrefix}contract:${stores++}:`,
      clock: 'caller',
      fallback: false,
    }),
  slackMs: () => 0,
});

describe('RedisRateLimitStore on Redis’s clock', () => {
  it('ignores the caller’s now: instances with clocks an hour apart share one window', async () => {
    const prefix = `${redis.keyPrefix}skew:`;
    const fast = new RedisRateLimitStore({ client, prefix, fallback: false });
    const slow = new RedisRateLimitStore({ client, prefix, fallback: false });
    const hour = 3_600_000;
    expect((await fast.hit('k', 2, 60_000, Date.now() + hour)).allowed).toBe(true);
    expect((await slow.hit('k', 2, 60_000, Date.now() - hour)).allowed).toBe(true);
    const denied = await fast.hit('k', 2, 60_000, Date.now() + hour);
    expect(denied).toMatchObject({ allowed: false, count: 2 });
    // Reset times are in Redis's time, which is this machine's: about a minute from now.
    expect(Math.abs(denied.resetAt - (Date.now() + 60_000))).toBeLessThan(2000);
    expect(denied.retryAfterMs).toBeGreaterThan(58_000);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('a window slides in real time: a hit leaves it windowMs after it was counted', async () => {
    const store = new RedisRateLimitStore({ client, prefix: `${redis.keyPrefix}slide:`, fallback: false });
    expect((await store.hit('k', 1, 300, 0)).allowed).toBe(true);
    const denied = await store.hit('k', 1, 300, 0);
    expect(denied.allowed).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, denied.retryAfterMs + 5));
    expect((await store.hit('k', 1, 300, 0)).allowed).toBe(true);
  });

  it('a limit of 100 per minute admits 100 hits of one key spread over 4 clients hitting at once', async () => {
    const clients = await Promise.all([1, 2, 3, 4].map(() => redis.connect()));
    const prefix = `${redis.keyPrefix}four:`;
    const limiters = clients.map(
      (each) =>
        new RateLimiter({
          policies: { recording: { limit: 100, windowMs: 60_000 } },
          store: new RedisRateLimitStore({ client: each, prefix, fallback: false }),
          adaptive: false,
        }),
    );
    // 4 × 60 hits, interleaved: 240 attempts for one user.
    const attempts = Array.from({ length: 60 }, () =>
      limiters.map((limiter) => limiter.check('recording', { userId: 'u1' })),
    )
      .flat()
      .map((result) => Promise.resolve(result));
    const results = await Promise.all(attempts);
    const allowed = results.filter((result) => result.allowed).length;
    expect(allowed).toBe(100);
    expect(results.filter((result) => !result.allowed).every((result) => result.retryAfterMs > 0)).toBe(true);
    // Another user is untouched.
    expect((await limiters[0]!.check('recording', { userId: 'u2' })).allowed).toBe(true);
  });

  it('reset forgets a key on every instance', async () => {
    const prefix = `${redis.keyPrefix}reset:`;
    const a = new RedisRateLimitStore({ client, prefix, fallback: false });
    const b = new RedisRateLimitStore({ client: await redis.connect(), prefix, fallback: false });
    await a.hit('k', 1, 60_000, 0);
    expect((await b.hit('k', 1, 60_000, 0)).allowed).toBe(false);
    await b.reset('k');
    expect((await a.hit('k', 1, 60_000, 0)).allowed).toBe(true);
  });
});

describe('RedisRateLimitStore without Redis', () => {
  it('counts in its local fallback while Redis is down, says so, and goes back to Redis when it returns', async () => {
    await using own = await startTestRedis({ externalUrl: false });
    const store = new RedisRateLimitStore({
      client: await own.connect(),
      prefix: own.keyPrefix,
      timeoutMs: 200,
    });
    expect((await store.hit('k', 2, 60_000, Date.now())).allowed).toBe(true);
    await own.stopServer();
    // Still limited (locally), never unlimited.
    const local = [];
    for (let i = 0; i < 4; i++) local.push((await store.hit('k', 2, 60_000, Date.now())).allowed);
    expect(local).toEqual([true, true, false, false]);
    expect(store.isDegraded).toBe(true);
    expect(store.stats()).toMatchObject({ fallbackHits: 4, isDegraded: true });
    await own.startServer();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await store.hit('k', 2, 60_000, Date.now())).allowed).toBe(true);
    expect(store.isDegraded).toBe(false);
  });

  it('with fallback: false, a Redis error reaches the caller', async () => {
    await using own = await startTestRedis({ externalUrl: false });
    const store = new RedisRateLimitStore({ client: await own.connect(), fallback: false, timeoutMs: 200 });
    await own.stopServer();
    await expect(store.hit('k', 1, 1000, 0)).rejects.toThrow();
  });

  it('rejects bad options with a TypeError', () => {
    expect(() => new RedisRateLimitStore({ client: {} as never })).toThrow(/client/);
    expect(() => new RedisRateLimitStore({ client, clock: 'wall' as never })).toThrow(/clock/);
    expect(() => new RedisRateLimitStore({ client, timeoutMs: 0 })).toThrow(/timeoutMs/);
  });
});
