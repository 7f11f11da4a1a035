import { describe, expect, it } from 'vitest';
import { isSafeguardError, type SafeguardError } from '../errors/safeguard-error.js';
import { createSafeguards } from '../safeguards.js';
import { flushMicrotasks, ManualClock } from '../testing/manual-clock.js';

/** Settles `promise` into a value or the SafeguardError it rejected with. */
async function outcome<T>(promise: Promise<T>): Promise<T | SafeguardError> {
  try {
    return await promise;
  } catch (error) {
    if (isSafeguardError(error)) return error;
    throw error;
  }
}

describe('adaptive rate limits through the pipeline', () => {
  it('a saturated budget tightens every limit at the next check, and the limit relaxes step by step afterwards', async () => {
    const clock = new ManualClock();
    const safeguards = createSafeguards({
      clock,
      queue: { maxConcurrentConnections: 2, reservedForCritical: 0 },
      rateLimits: { policies: { test: { limit: 10, windowMs: 60_000 } } },
    });
    const limited = (userId: string) =>
      safeguards.run(async () => 'done', { operationType: 'read', policy: 'test', userId });

    // Idle: the first check adjusts from an idle reading and keeps the full limit.
    await expect(limited('warm-up')).resolves.toBe('done');
    expect(safeguards.rateLimiter.multiplier).toBe(1);

    // Saturate the budget: both slots held by work that has not finished.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const holders = [0, 1].map(() => safeguards.run(() => held, { operationType: 'read' }));
    await flushMicrotasks();
    expect(safeguards.queue.stats().active).toBe(2);

    // A second on: the next rate-limited run adjusts from 100 % usage, halving every limit to 5.
    await clock.advance(1000);
    const runs = Array.from({ length: 6 }, () => outcome(limited('busy-user')));
    await flushMicrotasks();
    expect(safeguards.rateLimiter.multiplier).toBe(0.5);
    const refused = await runs[5]!;
    expect(refused).toMatchObject({ type: 'RATE_LIMIT', rateLimit: { policy: 'test', limit: 5 } });
    const underLoad = await safeguards.health();
    expect(underLoad.components.rateLimit).toEqual({
      status: 'degraded',
      message: 'limits tightened to 50% under load',
    });

    // Load gone: the five admitted runs finish, and each later interval relaxes the multiplier by 0.1.
    release();
    await Promise.all(holders);
    expect(await Promise.all(runs.slice(0, 5))).toEqual(Array(5).fill('done'));
    const multipliers: number[] = [];
    for (let step = 0; step < 6; step++) {
      await clock.advance(1000);
      await limited(`later-${step}`);
      multipliers.push(safeguards.rateLimiter.multiplier);
    }
    expect(multipliers.map((m) => Math.round(m * 10) / 10)).toEqual([0.6, 0.7, 0.8, 0.9, 1, 1]);
    expect((await safeguards.health()).components.rateLimit).toEqual({
      status: 'healthy',
      message: 'normal limits',
    });
    // Back to the full limit: ten runs of one user pass, the eleventh is refused with limit 10.
    const again = await Promise.all(Array.from({ length: 11 }, () => outcome(limited('fresh-user'))));
    expect(again.filter((result) => result === 'done')).toHaveLength(10);
    expect(again[10]).toMatchObject({ type: 'RATE_LIMIT', rateLimit: { limit: 10 } });
    await safeguards.close();
  });

  it('within one interval the multiplier is not recomputed, however the load changes', async () => {
    const clock = new ManualClock();
    const safeguards = createSafeguards({
      clock,
      queue: { maxConcurrentConnections: 1, reservedForCritical: 0 },
      rateLimits: { policies: { test: { limit: 100, windowMs: 60_000 } } },
    });
    let release: () => void = () => undefined;
    const held = safeguards.run(
      () =>
        new Promise<void>((resolve) => {
          release = resolve;
        }),
    );
    await flushMicrotasks();
    const first = outcome(safeguards.run(async () => 1, { policy: 'test', userId: 'u' }));
    await flushMicrotasks();
    expect(safeguards.rateLimiter.multiplier).toBe(0.5);
    release();
    await Promise.all([held, first]);
    await clock.advance(999);
    await safeguards.run(async () => 1, { policy: 'test', userId: 'u' });
    expect(safeguards.rateLimiter.multiplier).toBe(0.5);
    await clock.advance(1);
    await safeguards.run(async () => 1, { policy: 'test', userId: 'u' });
    expect(safeguards.rateLimiter.multiplier).toBeCloseTo(0.6);
    await safeguards.close();
  });
});
