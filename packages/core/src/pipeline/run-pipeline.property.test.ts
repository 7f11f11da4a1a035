import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OperationType } from '../operation-context.js';
import { type Priority, priorities } from '../priority.js';
import { createSafeguards } from '../safeguards.js';
import { ManualClock } from '../testing/manual-clock.js';

type Outcome = 'ok' | 'transient' | 'conflict' | 'internal';

interface Submit {
  kind: 'submit';
  priority: Priority;
  operationType: OperationType;
  durationMs: number;
  outcome: Outcome;
  /** Parallel nested calls the operation makes (0: it is one query itself). */
  nested: number;
  /** One nested call fails with a transient error, so `Promise.all` rejects while others wait. */
  nestedFails: boolean;
  /** The query ignores its signal and runs this long whatever the deadline (a hung driver). */
  ignoresSignal: boolean;
  abortAfterMs: number | null;
  timeoutMs: number | null;
  deadlinePassed: boolean;
}

type Command = Submit | { kind: 'advance'; ms: number } | { kind: 'forceOpen' } | { kind: 'resetBreakers' };

const submitArb: fc.Arbitrary<Submit> = fc.record({
  kind: fc.constant('submit' as const),
  priority: fc.constantFrom(...priorities),
  operationType: fc.constantFrom<OperationType>('read', 'write', 'critical', 'batch'),
  durationMs: fc.integer({ min: 1, max: 400 }),
  outcome: fc.constantFrom<Outcome>('ok', 'ok', 'transient', 'conflict', 'internal'),
  nested: fc.constantFrom(0, 0, 1, 3),
  nestedFails: fc.boolean(),
  ignoresSignal: fc.boolean(),
  abortAfterMs: fc.option(fc.integer({ min: 0, max: 300 }), { freq: 4 }),
  timeoutMs: fc.option(fc.integer({ min: 0, max: 600 }), { freq: 2 }),
  deadlinePassed: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
});

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: submitArb },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 250 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'forceOpen' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'resetBreakers' as const }) },
);

const errorFor = (outcome: Exclude<Outcome, 'ok'>): Error => {
  if (outcome === 'internal') return new Error('socket went away weirdly');
  const code = outcome === 'transient' ? '57P01' : '23505';
  return Object.assign(new Error('db error'), { name: 'error', code });
};

describe('Safeguards.run invariants (property-based, whole pipeline)', () => {
  it('every call settles exactly once, work in flight never exceeds the budget, and no slot leaks', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(commandArb, { minLength: 1, maxLength: 40, size: 'max' }),
        async (budget, reserve, maxQueueSize, maxAttempts, commands) => {
          const clock = new ManualClock();
          const safeguards = createSafeguards({
            clock,
            random: () => 0.5,
            defaultTimeoutMs: 1000,
            queue: {
              maxConcurrentConnections: budget,
              reservedForCritical: reserve && budget > 1 ? 1 : 0,
              maxQueueSize,
              timeoutMs: 500,
              abandonAfterMs: 200,
              starvationAfterMs: 100,
            },
            retry: { maxAttempts, baseDelayMs: 20, jitter: 'none', budget: false },
            breakers: {
              primary: { failureThreshold: 3, successThreshold: 1, openDurationMs: 300 },
              critical: { failureThreshold: 3, successThreshold: 1, openDurationMs: 300 },
              batch: { failureThreshold: 3, successThreshold: 1, openDurationMs: 300 },
            },
            degradation: { readOnlyWhenBreakerOpen: [] },
          });
          const queue = safeguards.queue;
          const violations: string[] = [];
          /** Queries running right now, counted by the queries themselves. */
          let running = 0;
          const check = (where: string) => {
            const { active, abandonedRunning } = queue.stats();
            if (active > budget) violations.push(`${where}: ${active} slots held on a budget of ${budget}`);
            // Every running query is on a held slot or on one reclaimed from it while it still ran.
            if (running > active + abandonedRunning) {
              violations.push(
                `${where}: ${running} queries on ${active} slots (+${abandonedRunning} abandoned)`,
              );
            }
          };
          const sleep = (ms: number, signal: AbortSignal | undefined) =>
            new Promise<void>((resolve, reject) => {
              const handle = clock.setTimeout(resolve, ms);
              signal?.addEventListener('abort', () => {
                clock.clearTimeout(handle);
                reject(signal.reason);
              });
            });
          /** One query: counts itself, holds its connection for `durationMs`, then ends as told. */
          /** The queries running on one attempt's slot; `settled` once the attempt's operation has. */
          interface Slot {
            queries: number;
            settled: boolean;
          }
          const query = async (command: Submit, signal: AbortSignal, outcome: Outcome, onSlot: Slot) => {
            running++;
            onSlot.queries++;
            // Calls still waiting when their operation settled run on slots of their own.
            if (onSlot.queries > 1 && !onSlot.settled) violations.push('two queries at once on one slot');
            check('query start');
            try {
              await sleep(command.durationMs, command.ignoresSignal ? undefined : signal);
            } finally {
              running--;
              onSlot.queries--;
            }
            if (outcome !== 'ok') throw errorFor(outcome);
            return 'done';
          };
          /** Operation-end events by label: each call (top-level or nested) has a label of its own. */
          const ends = new Map<string, number>();
          safeguards.onOperationEnd((event) => {
            const label = event.label ?? '(none)';
            ends.set(label, (ends.get(label) ?? 0) + 1);
          });
          const topLevel: string[] = [];
          const settlements: number[] = [];
          const track = (promise: Promise<unknown>) => {
            const index = settlements.push(0) - 1;
            promise.then(
              () => settlements[index]!++,
              () => settlements[index]!++,
            );
          };
          for (const command of commands) {
            switch (command.kind) {
              case 'submit': {
                const controller = command.abortAfterMs === null ? undefined : new AbortController();
                if (controller) clock.setTimeout(() => controller.abort(), command.abortAfterMs!);
                const label = `call ${topLevel.length}`;
                topLevel.push(label);
                track(
                  safeguards.run(
                    (scope) => {
                      const onSlot: Slot = { queries: 0, settled: false };
                      if (command.nested === 0) return query(command, scope.signal, command.outcome, onSlot);
                      const calls = Array.from({ length: command.nested }, (_, i) => {
                        const call = safeguards.run(
                          (inner) =>
                            query(
                              command,
                              inner.signal,
                              command.nestedFails && i === 0 ? 'transient' : 'ok',
                              onSlot,
                            ),
                          { label: `${label} attempt ${scope.attempt} nested ${i}` },
                        );
                        track(call);
                        return call;
                      });
                      return Promise.all(calls).then(
                        () => {
                          onSlot.settled = true;
                          if (command.outcome !== 'ok') throw errorFor(command.outcome);
                          return 'done';
                        },
                        (error: unknown) => {
                          onSlot.settled = true;
                          throw error;
                        },
                      );
                    },
                    {
                      priority: command.priority,
                      operationType: command.operationType,
                      signal: controller?.signal,
                      label,
                      ...(command.timeoutMs === null ? {} : { timeoutMs: command.timeoutMs }),
                      ...(command.deadlinePassed ? { deadline: clock.now() - 1 } : {}),
                    },
                  ),
                );
                break;
              }
              case 'advance':
                await clock.advance(command.ms);
                break;
              case 'forceOpen':
                safeguards.breakers.get('primary').forceOpen();
                break;
              case 'resetBreakers':
                safeguards.breakers.resetAll();
                break;
            }
            await Promise.resolve();
            check(`after ${command.kind}`);
          }
          // Let everything finish: hung queries end, abandoned slots are reclaimed, waiters time out.
          for (let round = 0; round < 40 && settlements.some((count) => count === 0); round++) {
            await clock.advance(250);
          }
          await clock.advance(1000);
          check('end');
          expect(violations).toEqual([]);
          expect(settlements.filter((count) => count !== 1)).toEqual([]);
          expect(running).toBe(0);
          expect(queue.stats()).toMatchObject({ active: 0, queued: 0, abandonedRunning: 0 });
          expect(queue.stats().peakActive).toBeLessThanOrEqual(budget);
          const operations = safeguards.metrics().operations;
          expect(operations.inFlight).toBe(0);
          // Every operation ended exactly one way, and told its listeners exactly once: each call made
          // at the top level, and each nested call that ran as an operation of its own.
          expect(operations.started).toBe(operations.succeeded + operations.failed + operations.rejected);
          expect([...ends.entries()].filter(([, count]) => count !== 1)).toEqual([]);
          expect(topLevel.filter((label) => !ends.has(label))).toEqual([]);
          expect([...ends.values()].reduce((sum, count) => sum + count, 0)).toBe(operations.started);
        },
      ),
      { numRuns: 200 },
    );
  });
});
