import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSafeguardError } from '../errors/safeguard-error.js';
import type { OperationType } from '../operation-context.js';
import { createSafeguards } from '../safeguards.js';
import { flushMicrotasks, ManualClock } from '../testing/manual-clock.js';

/** One round of the attack: the flooder fires `calls` at once, then time moves on. */
interface Round {
  calls: number;
  /** Of the flood, how many go through a second, stricter policy (sign-in style). */
  strictCalls: number;
  operationType: OperationType;
  /** The flooder's operation answers a unique violation (its own bad input) instead of a row. */
  conflicts: boolean;
  /** Calls the other client makes after the flood, each charged to its own limit. */
  otherCalls: number;
  advanceMs: number;
}

const roundArb: fc.Arbitrary<Round> = fc.record({
  calls: fc.integer({ min: 1, max: 400 }),
  strictCalls: fc.integer({ min: 0, max: 20 }),
  operationType: fc.constantFrom<OperationType>('read', 'write', 'batch', 'critical'),
  conflicts: fc.boolean(),
  otherCalls: fc.integer({ min: 0, max: 3 }),
  advanceMs: fc.integer({ min: 0, max: 3000 }),
});

const uniqueViolation = () => Object.assign(new Error('duplicate key'), { name: 'error', code: '23505' });
const lostConnection = () =>
  Object.assign(new Error('connection terminated'), { name: 'error', code: '08006' });

describe('one client flooding (refusals are not failures)', () => {
  it('never changes another client’s limit or the health status, and never pushes real errors out of the log', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(roundArb, { minLength: 1, maxLength: 12 }), async (rounds) => {
        const clock = new ManualClock();
        const safeguards = createSafeguards({
          clock,
          random: () => 0.5,
          errorLogSize: 10,
          retry: { maxAttempts: 1 },
          queue: { maxConcurrentConnections: 2, reservedForCritical: 0, maxQueueSize: 20 },
          rateLimits: {
            policies: {
              api: { limit: 100, windowMs: 60_000 },
              strict: { limit: 5, windowMs: 60_000 },
            },
          },
        });
        const other = { userId: 'other-user' };
        // Before the flood: ordinary traffic with one real failure the operator must still see.
        for (let i = 0; i < 30; i++) await safeguards.run(async () => i, { policy: 'api', ...other });
        await safeguards
          .run(() => Promise.reject(lostConnection()), { operationType: 'read' })
          .catch(() => undefined);
        const before = await safeguards.health();
        expect(before.status).toBe('healthy');
        const realError = safeguards.errorLog.recent({ limit: 1 })[0]!;
        expect(realError.reason).toBe('connection-lost');

        let refusals = 0;
        for (const round of rounds) {
          const flood: Array<Promise<unknown>> = [];
          for (let i = 0; i < round.calls; i++) {
            const policy = i < round.strictCalls ? 'strict' : 'api';
            flood.push(
              safeguards
                .run(
                  async () => {
                    await Promise.resolve();
                    if (round.conflicts) throw uniqueViolation();
                    return i;
                  },
                  { policy, ip: '198.51.100.7', operationType: round.operationType },
                )
                .catch((error: unknown) => {
                  if (isSafeguardError(error) && (error.type === 'RATE_LIMIT' || error.type === 'QUEUE_FULL'))
                    refusals++;
                }),
            );
          }
          await flushMicrotasks();
          await Promise.all(flood);
          for (let i = 0; i < round.otherCalls; i++) {
            await expect(safeguards.run(async () => 'mine', { policy: 'api', ...other })).resolves.toBe(
              'mine',
            );
          }
          expect(safeguards.rateLimiter.effectiveLimit('api', other)).toBe(100);
          const report = await safeguards.health();
          expect(report.status, JSON.stringify(report.alerts)).toBe('healthy');
          expect(report.components.errors.status).toBe('healthy');
          await clock.advance(round.advanceMs);
        }

        // The real error is still there, the refusals are summarised apart.
        expect(safeguards.errorLog.recent().map((entry) => entry.errorId)).toContain(realError.errorId);
        const bursts = safeguards.errorLog.refusals();
        expect(bursts.reduce((sum, burst) => sum + burst.count, 0)).toBe(refusals);
        expect(bursts.length).toBeLessThanOrEqual(100);
        await safeguards.close();
      }),
      { numRuns: 60 },
    );
  });

  it('the flood of the issue (1,990 calls at once) leaves health and the other client untouched', async () => {
    const clock = new ManualClock();
    const safeguards = createSafeguards({ clock, errorLogSize: 50 });
    const other = { userId: 'someone-else' };
    for (let i = 0; i < 25; i++) await safeguards.run(async () => i, { policy: 'api', ...other });
    const settled = Promise.allSettled(
      Array.from({ length: 1990 }, () =>
        safeguards.run(
          async () => {
            await new Promise<void>((resolve) => clock.setTimeout(resolve, 5));
            return 'me';
          },
          { policy: 'api', ip: '192.0.2.1', operationType: 'read' },
        ),
      ),
    );
    await clock.advance(5000);
    const outcomes = await settled;
    const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(refused.length).toBeGreaterThan(1800);
    const report = await safeguards.health();
    expect(report.httpStatus).toBe(200);
    expect(report.components.errors.status).toBe('healthy');
    expect(report.metrics.operations.windowFailed).toBe(0);
    expect(safeguards.rateLimiter.effectiveLimit('api', other)).toBe(100);
    // One row per kind of refusal, not 1,900 rows.
    expect(safeguards.errorLog.recent()).toEqual([]);
    const bursts = safeguards.errorLog.refusals();
    expect(bursts.length).toBeLessThanOrEqual(3);
    expect(bursts.reduce((sum, burst) => sum + burst.count, 0)).toBe(refused.length);
    await safeguards.close();
  });
});
