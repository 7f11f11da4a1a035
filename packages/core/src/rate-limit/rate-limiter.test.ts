import { describe, expect, it } from 'vitest';
import { ManualClock } from '../testing/manual-clock.js';
import { nextMultiplier, targetMultiplier } from './adaptive-limits.js';
import { rateLimitHeaders } from './rate-limit-headers.js';
import { rateLimitKey } from './rate-limit-key.js';
import { RateLimiter, type RateLimitResult } from './rate-limiter.js';

const sync = (result: RateLimitResult | Promise<RateLimitResult>) => result as RateLimitResult;

describe('RateLimiter', () => {
  it('has the source design policies', () => {
    const limiter = new RateLimiter();
    expect(limiter.policies).toMatchObject({
      api: { limit: 100, windowMs: 60_000 },
      auth: { limit: 5, windowMs: 900_000 },
      heavy: { limit: 10, windowMs: 60_000 },
      recording: { limit: 30, windowMs: 60_000 },
      upload: { limit: 10, windowMs: 300_000 },
      reports: { limit: 5, windowMs: 60_000 },
    });
  });

  it('limits per key and reports limit, remaining, reset and retry-after', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ adaptive: false }, clock);
    const results = Array.from({ length: 6 }, () => sync(limiter.check('auth', { ip: '10.0.0.1' })));
    expect(results.map((result) => result.allowed)).toEqual([true, true, true, true, true, false]);
    expect(results[0]).toMatchObject({ limit: 5, remaining: 4, retryAfterMs: 0 });
    expect(results[5]!.retryAfterMs).toBeGreaterThan(0);
    expect(results[5]!.resetAt).toBeGreaterThan(clock.now());
    expect(sync(limiter.check('auth', { ip: '10.0.0.2' })).allowed).toBe(true);
    expect(limiter.stats()).toMatchObject({ checks: 7, limited: 1 });
  });

  it('keys by user, then tenant, then IP, then anonymous', () => {
    expect(rateLimitKey('api', { userId: 'u1', tenantId: 't1', ip: '1.1.1.1' })).toBe('api|user:u1');
    expect(rateLimitKey('api', { tenantId: 't1', ip: '1.1.1.1' })).toBe('api|tenant:t1');
    expect(rateLimitKey('api', { ip: '1.1.1.1' })).toBe('api|ip:1.1.1.1');
    expect(rateLimitKey('api', {})).toBe('api|anonymous');
  });

  it('keeps keys short however long or odd the identity', () => {
    const long = 'x'.repeat(100_000);
    const key = rateLimitKey('api', { userId: long });
    expect(key.length).toBeLessThan(80);
    expect(rateLimitKey('api', { userId: `${long}y` })).not.toBe(key);
  });

  it('throws a TypeError naming an unknown policy', () => {
    expect(() => new RateLimiter().check('nope', {})).toThrow(/Unknown rate-limit policy "nope"/);
    expect(() => new RateLimiter({ policies: { bad: { limit: 0, windowMs: 1 } } })).toThrow(
      /rateLimits.policies.bad.limit/,
    );
  });

  it('under lasting load tightens only the clients above their fair share, and relaxes them gradually (adjustLimits)', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ adaptive: { sustainMs: 0 } }, clock);
    const heavy = { userId: 'heavy' };
    const light = { userId: 'light' };
    for (let i = 0; i < 30; i++) limiter.check('api', heavy);
    limiter.check('api', light);
    limiter.check('api', { userId: 'other' });
    expect(limiter.adjustLimits({ connectionUsage: 85, responseTime: 3000, errorRate: 5 })).toBeCloseTo(
      0.75 ** 3,
    );
    expect(limiter.effectiveLimit('api', heavy)).toBe(Math.floor(100 * 0.75 ** 3));
    expect(limiter.effectiveLimit('api', light)).toBe(100);
    expect(limiter.effectiveLimit('api')).toBe(100);
    expect(limiter.stats()).toMatchObject({ tightenedClients: 1 });
    for (let i = 0; i < 5; i++) limiter.check('api', heavy);
    expect(limiter.adjustLimits({ connectionUsage: 95, responseTime: 6000, errorRate: 20 })).toBe(0.25);
    expect(limiter.effectiveLimit('api', heavy)).toBe(25);
    const relaxed = [1, 2, 3].map(() => {
      limiter.adjustLimits({ connectionUsage: 10, responseTime: 50, errorRate: 0 });
      return limiter.effectiveLimit('api', heavy);
    });
    expect(relaxed).toEqual([35, 45, 55]);
    for (let i = 0; i < 10; i++) limiter.adjustLimits({});
    expect(limiter.multiplier).toBe(1);
    expect(limiter.effectiveLimit('api', heavy)).toBe(100);
    expect(limiter.stats()).toMatchObject({ tightenedClients: 0 });
  });

  it('a burst shorter than sustainMs tightens nobody; the same load lasting does', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ adaptive: { sustainMs: 5000 } }, clock);
    const heavy = { ip: '203.0.113.9' };
    const busy = () => {
      for (let i = 0; i < 20; i++) limiter.check('api', heavy);
      limiter.check('api', { userId: 'someone' });
    };
    busy();
    expect(limiter.adjustLimits({ connectionUsage: 100 })).toBe(1);
    clock.set(clock.now() + 4000);
    busy();
    expect(limiter.adjustLimits({ connectionUsage: 100 })).toBe(1);
    // The load eased for a moment: the wait starts again.
    clock.set(clock.now() + 1000);
    expect(limiter.adjustLimits({ connectionUsage: 10 })).toBe(1);
    clock.set(clock.now() + 1000);
    busy();
    limiter.adjustLimits({ connectionUsage: 100 });
    clock.set(clock.now() + 5000);
    busy();
    expect(limiter.adjustLimits({ connectionUsage: 100 })).toBe(0.5);
    expect(limiter.effectiveLimit('api', heavy)).toBe(50);
    expect(limiter.effectiveLimit('api', { userId: 'someone' })).toBe(100);
  });

  it('adaptive off keeps the multiplier at 1', () => {
    const limiter = new RateLimiter({ adaptive: false });
    expect(limiter.adjustLimits({ connectionUsage: 100 })).toBe(1);
  });

  it('works with an asynchronous store', async () => {
    const limiter = new RateLimiter({
      adaptive: false,
      store: {
        hit: async (_key, limit) => ({ allowed: limit > 0, count: 1, resetAt: 0, retryAfterMs: 0 }),
        reset: async () => undefined,
      },
    });
    const result = limiter.check('api', { userId: 'u' });
    expect(result).toBeInstanceOf(Promise);
    await expect(result).resolves.toMatchObject({ allowed: true, remaining: 99 });
  });
});

describe('adaptive limit math', () => {
  it('targets compound and floor at the minimum', () => {
    expect(targetMultiplier({}, 0.25)).toBe(1);
    expect(targetMultiplier({ connectionUsage: 70 }, 0.25)).toBe(0.75);
    expect(targetMultiplier({ connectionUsage: 90 }, 0.25)).toBe(0.5);
    expect(targetMultiplier({ connectionUsage: 90, responseTime: 5000, errorRate: 10 }, 0.25)).toBe(0.25);
    expect(nextMultiplier(1, 0.5, 0.1)).toBe(0.5);
    expect(nextMultiplier(0.5, 1, 0.1)).toBeCloseTo(0.6);
  });
});

describe('rateLimitHeaders', () => {
  it('produces X-RateLimit-* always and Retry-After only when refused', () => {
    const base = { policy: 'api', key: 'k', limit: 100, remaining: 0, resetAt: 1_700_000_060_500 };
    expect(rateLimitHeaders({ ...base, allowed: true, remaining: 42, retryAfterMs: 0 })).toEqual({
      'X-RateLimit-Limit': '100',
      'X-RateLimit-Remaining': '42',
      'X-RateLimit-Reset': '1700000061',
    });
    expect(rateLimitHeaders({ ...base, allowed: false, retryAfterMs: 1500 })['Retry-After']).toBe('2');
  });
});

describe('hostile rate-limit keys (property-based)', () => {
  it('huge or odd identities keep keys short and the store bounded', async () => {
    const fc = await import('fast-check');
    const limiter = new RateLimiter({ maxKeys: 500, adaptive: false });
    const identity = fc.record(
      {
        userId: fc.oneof(
          fc.string({ maxLength: 50_000 }),
          fc.string({ unit: 'grapheme', maxLength: 200 }),
          fc.integer(),
          fc.constant(''),
        ),
        tenantId: fc.oneof(fc.string(), fc.constant('\u0000'.repeat(1000))),
        ip: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 10_000 })),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.array(identity, { minLength: 1, maxLength: 50 }),
        fc.constantFrom('api', 'auth', 'reports'),
        (identities, policy) => {
          for (const who of identities) {
            const result = limiter.check(policy, who) as RateLimitResult;
            expect(result.key.length).toBeLessThan(200);
          }
          expect(limiter.store.size).toBeLessThanOrEqual(500);
        },
      ),
      { numRuns: 300 },
    );
  });
});
