import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeRateLimitStoreContract } from '../../test/contract/rate-limit-store-contract.js';
import { MemoryRateLimitStore } from './memory-rate-limit-store.js';

describeRateLimitStoreContract('MemoryRateLimitStore', { create: () => new MemoryRateLimitStore() });
describeRateLimitStoreContract('MemoryRateLimitStore with 3 keys and 1 bucket', {
  create: () => new MemoryRateLimitStore({ maxKeys: 3, bucketsPerWindow: 1 }),
  slackMs: (windowMs) => windowMs,
});

describe('MemoryRateLimitStore', () => {
  it('allows up to the limit in a window, then denies with a retry-after', () => {
    const store = new MemoryRateLimitStore();
    const windowMs = 60_000;
    const start = 1_000_000_000;
    for (let i = 0; i < 5; i++) expect(store.hit('k', 5, windowMs, start + i).allowed).toBe(true);
    const denied = store.hit('k', 5, windowMs, start + 10);
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfterMs).toBeGreaterThan(0);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(windowMs + windowMs / 10);
    // After the retry-after the request goes through.
    expect(store.hit('k', 5, windowMs, start + 10 + denied.retryAfterMs).allowed).toBe(true);
  });

  it('keeps keys apart', () => {
    const store = new MemoryRateLimitStore();
    expect(store.hit('a', 1, 1000, 5000).allowed).toBe(true);
    expect(store.hit('b', 1, 1000, 5000).allowed).toBe(true);
    expect(store.hit('a', 1, 1000, 5001).allowed).toBe(false);
  });

  it('holds at most maxKeys keys and sweeps idle ones', () => {
    const store = new MemoryRateLimitStore({ maxKeys: 100 });
    for (let i = 0; i < 10_000; i++) store.hit(`key-${i}`, 10, 1000, 1_000_000);
    expect(store.size).toBeLessThanOrEqual(100);
    // Much later, hits on new keys sweep the idle old ones.
    for (let i = 0; i < 50; i++) store.hit(`late-${i}`, 10, 1000, 9_000_000 + i);
    expect(store.size).toBeLessThanOrEqual(60);
  });

  it('never lets any window of windowMs hold more than limit allowed hits (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 10, max: 5000 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 300 }),
        (limit, windowMs, buckets, gaps) => {
          const store = new MemoryRateLimitStore({ bucketsPerWindow: buckets });
          let now = 1_000_000;
          const allowed: number[] = [];
          for (const gap of gaps) {
            now += gap;
            if (store.hit('k', limit, windowMs, now).allowed) allowed.push(now);
          }
          // Every window (t - windowMs, t] ending at an allowed hit holds at most `limit` allowed hits.
          for (let i = 0; i < allowed.length; i++) {
            const end = allowed[i]!;
            const inWindow = allowed.filter((t) => t > end - windowMs && t <= end).length;
            expect(inWindow).toBeLessThanOrEqual(limit);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a denied caller that waits retryAfterMs is then allowed (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 100, max: 10_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        (limit, windowMs, offset) => {
          const store = new MemoryRateLimitStore();
          const start = 5_000_000 + offset;
          for (let i = 0; i < limit; i++) store.hit('k', limit, windowMs, start);
          const denied = store.hit('k', limit, windowMs, start);
          expect(denied.allowed).toBe(false);
          expect(store.hit('k', limit, windowMs, start + denied.retryAfterMs).allowed).toBe(true);
        },
      ),
    );
  });

  it('regression: the busiest key keeps its count while other keys churn past maxKeys', () => {
    // The audit's case: one key hit every 50 ms against 100 per minute, while new keys keep arriving.
    const store = new MemoryRateLimitStore({ maxKeys: 100 });
    let allowed = 0;
    let now = 1_000_000_000;
    for (let i = 0; i < 1000; i++) {
      if (store.hit('busy', 100, 60_000, now).allowed) allowed++;
      for (let j = 0; j < 5; j++) store.hit(`churn-${i}-${j}`, 100, 60_000, now + j);
      now += 50;
    }
    // 50 s is inside one window: exactly the limit gets through.
    expect(allowed).toBe(100);
    expect(store.size).toBeLessThanOrEqual(100);
  });

  it('regression: idle keys are swept although a hot key sits at the front of the store', () => {
    const store = new MemoryRateLimitStore();
    let now = 1_000_000_000;
    store.hit('hot', 1_000_000, 60_000, now);
    for (let i = 0; i < 5000; i++) store.hit(`idle-${i}`, 10, 60_000, now);
    // The hot key is hit far more often than once per bucket (6 s), for 200 000 s.
    for (let i = 0; i < 200_000; i++) {
      now += 1000;
      store.hit('hot', 1_000_000, 60_000, now);
    }
    expect(store.size).toBe(1);
  });

  it('a key with a long window does not keep idle short-window keys from being swept', () => {
    const store = new MemoryRateLimitStore();
    const now = 1_000_000_000;
    store.hit('auth-key', 5, 900_000, now);
    for (let i = 0; i < 1000; i++) store.hit(`api-${i}`, 100, 60_000, now);
    // Two minutes on: every api key is idle, the 15-minute key is still counting.
    for (let i = 0; i < 1000; i++) store.hit('api-hot', 10_000, 60_000, now + 120_000 + i);
    expect(store.size).toBe(2);
    expect(store.hit('auth-key', 1, 900_000, now + 121_000).allowed).toBe(false);
  });

  it('evicts the least recently hit key first, not the newest', () => {
    const store = new MemoryRateLimitStore({ maxKeys: 3 });
    const now = 1_000_000_000;
    for (const key of ['a', 'b', 'c']) store.hit(key, 1, 60_000, now);
    store.hit('a', 1, 60_000, now + 1);
    store.hit('d', 1, 60_000, now + 2);
    // b was the least recently hit: forgotten, so allowed again; a, c and d still count.
    expect(store.hit('b', 1, 60_000, now + 3).allowed).toBe(true);
    expect(store.size).toBe(3);
    expect(store.hit('d', 1, 60_000, now + 4).allowed).toBe(false);
  });
});
