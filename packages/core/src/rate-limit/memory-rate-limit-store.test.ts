import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryRateLimitStore } from './memory-rate-limit-store.js';

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
});
