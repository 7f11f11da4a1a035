import { describe, expect, it } from 'vitest';
import { ManualClock } from '../testing/manual-clock.js';
import { backoffDelay } from './backoff.js';
import { RetryBudget } from './retry-budget.js';
import { resolveRetryOptions } from './retry-options.js';

describe('backoffDelay', () => {
  const options = { baseDelayMs: 100, maxDelayMs: 10_000 };

  it('doubles per retry and caps at maxDelayMs', () => {
    const exact = { ...options, jitter: 'none' as const };
    expect([1, 2, 3, 4, 10, 30].map((retry) => backoffDelay(retry, exact, Math.random))).toEqual([
      100, 200, 400, 800, 10_000, 10_000,
    ]);
  });

  it('equal jitter stays within half and all of the exponential delay', () => {
    const equal = { ...options, jitter: 'equal' as const };
    expect(backoffDelay(3, equal, () => 0)).toBe(200);
    expect(backoffDelay(3, equal, () => 0.999_999)).toBe(400);
  });

  it('full jitter spreads over the whole delay', () => {
    const full = { ...options, jitter: 'full' as const };
    expect(backoffDelay(2, full, () => 0)).toBe(0);
    expect(backoffDelay(2, full, () => 0.5)).toBe(100);
  });

  it('never waits less than the error asked for, nor more than the cap', () => {
    expect(backoffDelay(1, { ...options, jitter: 'none' }, Math.random, 1000)).toBe(1000);
    expect(backoffDelay(1, { ...options, jitter: 'none' }, Math.random, 60_000)).toBe(10_000);
  });
});

describe('RetryBudget', () => {
  it('allows retries up to ratio × requests plus the floor, within the window', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget(clock, { ratio: 0.2, minPerSecond: 0, windowMs: 10_000 });
    for (let i = 0; i < 50; i++) budget.recordRequest();
    let allowed = 0;
    for (let i = 0; i < 50; i++) if (budget.tryWithdraw()) allowed++;
    expect(allowed).toBe(10);
    expect(budget.stats()).toMatchObject({ requests: 50, retries: 10, exhausted: 40 });
    clock.set(clock.now() + 20_000);
    expect(budget.tryWithdraw()).toBe(false);
    budget.recordRequest();
    budget.recordRequest();
    budget.recordRequest();
    budget.recordRequest();
    budget.recordRequest();
    expect(budget.tryWithdraw()).toBe(true);
  });

  it('keeps a floor of retries per second for quiet services', () => {
    const budget = new RetryBudget(new ManualClock(), { ratio: 0, minPerSecond: 1, windowMs: 3000 });
    expect([1, 2, 3, 4].map(() => budget.tryWithdraw())).toEqual([true, true, true, false]);
  });
});

describe('resolveRetryOptions', () => {
  it('defaults and validation', () => {
    expect(resolveRetryOptions()).toMatchObject({ maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 10_000 });
    expect(() => resolveRetryOptions({ maxAttempts: 0 })).toThrow(/retry.maxAttempts/);
    expect(() => resolveRetryOptions({ jitter: 'lots' as never })).toThrow(/retry.jitter/);
    expect(resolveRetryOptions({ budget: false }).budget).toBe(false);
  });
});
