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
  it('lasting saturation tightens only the client above its fair share; it relaxes step by step afterwards', async () => {
    const clock = new ManualClock();
    const safeguards = createSafeguards({
      clock,
      queue: { maxConcurrentConnections: 2, reservedForCritical: 0, maxQueueSize: 1000 },
      rateLimits: { policies: { test: { limit: 100, windowMs: 60_000 } } },
    });
    const limited = (userId: string) =>
      outcome(safeguards.run(async () => 'done', { operationType: 'read', policy: 'test', userId }));

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

    // Five seconds of full budget, every second five calls of a busy client and one of a calm one.
    const pending: Array<Promise<unknown>> = [];
    for (let second = 1; second <= 5; second++) {
      await clock.advance(1000);
      for (let i = 0; i < 5; i++) pending.push(limited('busy-user'));
      pending.push(limited('calm-user'));
      await flushMicrotasks();
      // Not yet lasting (the default sustainMs is 5 s): nobody is tightened.
      expect(safeguards.rateLimiter.multiplier).toBe(1);
    }
    // The sixth second: the load has lasted 5 s, so the busy client (above the mean) is halved.
    await clock.advance(1000);
    pending.push(limited('busy-user'));
    await flushMicrotasks();
    expect(safeguards.rateLimiter.multiplier).toBe(0.5);
    expect(safeguards.rateLimiter.effectiveLimit('test', { userId: 'busy-user' })).toBe(50);
    expect(safeguards.rateLimiter.effectiveLimit('test', { userId: 'calm-user' })).toBe(100);
    const overLimit = Array.from({ length: 30 }, () => limited('busy-user'));
    const refused = await overLimit[29]!;
    expect(refused).toMatchObject({ type: 'RATE_LIMIT', rateLimit: { policy: 'test', limit: 50 } });
    const underLoad = await safeguards.health();
    expect(underLoad.components.rateLimit).toEqual({
      status: 'healthy',
      message: 'limits of 1 client above their fair share tightened to 50% under lasting load',
    });

    // Load gone: each later interval relaxes the busy client's limit by a tenth.
    release();
    await Promise.all([...holders, ...pending, ...overLimit]);
    const limits: number[] = [];
    for (let step = 0; step < 6; step++) {
      await clock.advance(1000);
      await limited(`later-${step}`);
      limits.push(safeguards.rateLimiter.effectiveLimit('test', { userId: 'busy-user' }));
    }
    expect(limits).toEqual([60, 70, 80, 90, 100, 100]);
    expect(safeguards.rateLimiter.multiplier).toBe(1);
    expect((await safeguards.health()).components.rateLimit).toEqual({
      status: 'healthy',
      message: 'normal limits',
    });
    await safeguards.close();
  });

  it('within one interval the multiplier is not recomputed, however the load changes', async () => {
    const clock = new ManualClock();
    const safeguards = createSafeguards({
      clock,
      queue: { maxConcurrentConnections: 1, reservedForCritical: 0 },
      rateLimits: { policies: { test: { limit: 100, windowMs: 60_000 } }, adaptive: { sustainMs: 0 } },
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
