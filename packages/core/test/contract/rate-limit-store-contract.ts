import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RateLimitStore } from '../../src/rate-limit/rate-limit-store.js';

/** What an implementation under test provides. */
export interface RateLimitStoreTarget {
  /** A fresh, empty store. Called once per test (and per property run). */
  create(): RateLimitStore | Promise<RateLimitStore>;
  /** Releases a store made by `create` (closes a connection, flushes a database). */
  dispose?(store: RateLimitStore): void | Promise<void>;
  /**
   * How far past `windowMs` a hit may still be counted. Bucketed stores count whole buckets and so err
   * strict by up to one bucket; an exact store passes 0. Default: `windowMs / 10`.
   */
  slackMs?(windowMs: number): number;
}

/** An arbitrary but fixed epoch: the contract must not depend on the wall clock. */
const start = 1_700_000_000_000;

/**
 * The `RateLimitStore` contract: every store (in memory, Redis, ...) must pass it. Run it from a test
 * file with `describeRateLimitStoreContract('MyStore', { create: () => new MyStore() })`.
 */
export function describeRateLimitStoreContract(name: string, target: RateLimitStoreTarget): void {
  const slack = (windowMs: number) => target.slackMs?.(windowMs) ?? windowMs / 10;

  const withStore = async (test: (store: RateLimitStore) => Promise<void>) => {
    const store = await target.create();
    try {
      await test(store);
    } finally {
      await target.dispose?.(store);
    }
  };

  describe(`RateLimitStore contract: ${name}`, () => {
    it('allows `limit` hits in a window, counting each, then denies with a retry-after', () =>
      withStore(async (store) => {
        const counts: number[] = [];
        for (let i = 0; i < 3; i++) {
          const decision = await store.hit('k', 3, 60_000, start + i);
          expect(decision).toMatchObject({ allowed: true, retryAfterMs: 0 });
          expect(decision.resetAt).toBeGreaterThan(start + i);
          counts.push(decision.count);
        }
        expect(counts).toEqual([1, 2, 3]);
        const denied = await store.hit('k', 3, 60_000, start + 10);
        expect(denied.allowed).toBe(false);
        expect(denied.count).toBeGreaterThanOrEqual(3);
        expect(denied.retryAfterMs).toBeGreaterThan(0);
        expect(denied.retryAfterMs).toBeLessThanOrEqual(60_000 + slack(60_000));
        expect(denied.resetAt).toBeGreaterThan(start + 10);
      }));

    it('a denied caller that waits retryAfterMs is allowed', () =>
      withStore(async (store) => {
        for (let i = 0; i < 2; i++) await store.hit('k', 2, 1000, start + i * 100);
        const denied = await store.hit('k', 2, 1000, start + 200);
        expect(denied.allowed).toBe(false);
        expect((await store.hit('k', 2, 1000, start + 200 + denied.retryAfterMs)).allowed).toBe(true);
      }));

    it('keeps keys apart', () =>
      withStore(async (store) => {
        expect((await store.hit('a', 1, 1000, start)).allowed).toBe(true);
        expect((await store.hit('b', 1, 1000, start)).allowed).toBe(true);
        expect((await store.hit('a', 1, 1000, start + 1)).allowed).toBe(false);
        expect((await store.hit('b', 1, 1000, start + 1)).allowed).toBe(false);
      }));

    it('gives the whole limit back once the window (and its slack) has passed', () =>
      withStore(async (store) => {
        for (let i = 0; i < 5; i++) await store.hit('k', 5, 10_000, start);
        expect((await store.hit('k', 5, 10_000, start + 1)).allowed).toBe(false);
        const later = start + 10_000 + slack(10_000) + 1;
        for (let i = 0; i < 5; i++) expect((await store.hit('k', 5, 10_000, later)).allowed).toBe(true);
      }));

    it('reset forgets a key and only that key', () =>
      withStore(async (store) => {
        await store.hit('a', 1, 60_000, start);
        await store.hit('b', 1, 60_000, start);
        await store.reset('a');
        expect((await store.hit('a', 1, 60_000, start + 1)).allowed).toBe(true);
        expect((await store.hit('b', 1, 60_000, start + 1)).allowed).toBe(false);
      }));

    it('denied hits are not counted: a caller hammering past its limit is not locked out longer', () =>
      withStore(async (store) => {
        await store.hit('k', 1, 1000, start);
        let last = await store.hit('k', 1, 1000, start + 1);
        for (let t = start + 2; t < start + 200; t++) last = await store.hit('k', 1, 1000, t);
        expect(last.allowed).toBe(false);
        expect((await store.hit('k', 1, 1000, start + 1000 + slack(1000) + 1)).allowed).toBe(true);
      }));

    it('never lets any window of windowMs hold more than limit allowed hits (property)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 10 }),
          fc.integer({ min: 10, max: 5000 }),
          fc.array(fc.tuple(fc.integer({ min: 0, max: 400 }), fc.constantFrom('a', 'b')), {
            minLength: 1,
            maxLength: 150,
          }),
          async (limit, windowMs, steps) =>
            withStore(async (store) => {
              let now = start;
              const allowed: Record<string, number[]> = { a: [], b: [] };
              for (const [gap, key] of steps) {
                now += gap;
                if ((await store.hit(key, limit, windowMs, now)).allowed) allowed[key]!.push(now);
              }
              for (const times of Object.values(allowed)) {
                for (const end of times) {
                  expect(times.filter((t) => t > end - windowMs && t <= end).length).toBeLessThanOrEqual(
                    limit,
                  );
                }
              }
            }),
        ),
        { numRuns: 200 },
      );
    });
  });
}
