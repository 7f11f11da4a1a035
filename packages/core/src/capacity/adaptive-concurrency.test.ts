import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AdaptiveConcurrency } from './adaptive-concurrency.js';

const options = { decreaseFactor: 0.5, increaseIntervalMs: 1000 };

function make(max = 8, start = 0) {
  const limits: number[] = [];
  const adaptive = new AdaptiveConcurrency(max, options, start, (limit) => limits.push(limit));
  return { adaptive, limits };
}

describe('AdaptiveConcurrency', () => {
  it('halves what was in use on a refusal, and ignores refusals of attempts made before that decrease', () => {
    const { adaptive, limits } = make();
    expect(adaptive.refused(0, 8, 10)).toBe(true);
    expect(adaptive.limit).toBe(4);
    // Started at 5, before the decrease at 10: made under the old limit, it says nothing new.
    expect(adaptive.refused(5, 8, 11)).toBe(false);
    expect(adaptive.limit).toBe(4);
    // Started after it: the database is still full at 4.
    expect(adaptive.refused(12, 4, 13)).toBe(true);
    expect(adaptive.limit).toBe(2);
    expect(limits).toEqual([4, 2]);
    expect(adaptive.stats()).toEqual({ limit: 2, refusals: 3, decreases: 2, increases: 0 });
  });

  it('lowers to half of the slots in use when fewer than the limit were in use', () => {
    const { adaptive } = make();
    adaptive.refused(0, 3, 1);
    expect(adaptive.limit).toBe(1);
  });

  it('never goes below 1', () => {
    const { adaptive } = make(2);
    for (let t = 1; t < 10; t++) adaptive.refused(t, 1, t);
    expect(adaptive.limit).toBe(1);
  });

  it('gives one slot back per interval of successes without a refusal, up to the budget', () => {
    const { adaptive } = make(8);
    adaptive.refused(0, 8, 0);
    adaptive.refused(1, 4, 1);
    expect(adaptive.limit).toBe(2);
    adaptive.succeeded(999);
    expect(adaptive.limit).toBe(2);
    adaptive.succeeded(1001);
    expect(adaptive.limit).toBe(3);
    // A quiet spell: the first success after it gives back what the time allows, no more than the budget.
    adaptive.succeeded(60_000);
    expect(adaptive.limit).toBe(8);
    expect(adaptive.stats().increases).toBe(6);
  });

  it('a refusal restarts the wait for the next slot back', () => {
    const { adaptive } = make(8);
    adaptive.refused(0, 8, 0);
    adaptive.succeeded(900);
    adaptive.refused(-1, 8, 900); // an old attempt: no decrease, but the database is full now
    adaptive.succeeded(1500);
    expect(adaptive.limit).toBe(4);
    adaptive.succeeded(1900);
    expect(adaptive.limit).toBe(5);
  });

  it('keeps its limit between 1 and the budget, drops only on refusals, and grows no faster than one slot per interval (property)', () => {
    type Step = { kind: 'refused'; age: number; inUse: number; gap: number } | { kind: 'ok'; gap: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({
        kind: fc.constant('refused' as const),
        age: fc.integer({ min: 0, max: 3000 }),
        inUse: fc.integer({ min: 1, max: 20 }),
        gap: fc.integer({ min: 0, max: 2000 }),
      }),
      fc.record({ kind: fc.constant('ok' as const), gap: fc.integer({ min: 0, max: 3000 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.array(step, { maxLength: 200 }), (max, steps) => {
        const { adaptive } = make(max);
        let now = 0;
        let lastChange = 0;
        for (const s of steps) {
          now += s.gap;
          const before = adaptive.limit;
          if (s.kind === 'refused') {
            adaptive.refused(now - s.age, s.inUse, now);
            expect(adaptive.limit).toBeLessThanOrEqual(before);
            if (adaptive.limit < before)
              expect(adaptive.limit).toBe(Math.max(1, Math.floor(Math.min(before, s.inUse) / 2)));
            lastChange = now;
          } else {
            adaptive.succeeded(now);
            expect(adaptive.limit).toBeGreaterThanOrEqual(before);
            // Never more than one slot per whole interval since the last refusal or increase.
            expect(adaptive.limit - before).toBeLessThanOrEqual(Math.floor((now - lastChange) / 1000));
            if (adaptive.limit > before) lastChange = now - ((now - lastChange) % 1000);
          }
          expect(adaptive.limit).toBeGreaterThanOrEqual(1);
          expect(adaptive.limit).toBeLessThanOrEqual(max);
        }
      }),
    );
  });
});
