import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Priority, priorities, priorityName } from '../priority.js';
import { ManualClock } from '../testing/manual-clock.js';
import { ConnectionQueue, type Lease } from './connection-queue.js';

type Command =
  | {
      kind: 'acquire';
      priority: Priority;
      deadlineMs: number | null;
      abortable: boolean;
      continuation: boolean;
    }
  | { kind: 'release'; index: number }
  | { kind: 'abort'; index: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'pause'; priority: Priority }
  | { kind: 'resume' };

const priorityArb = fc.constantFrom(...priorities);
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('acquire' as const),
      priority: priorityArb,
      deadlineMs: fc.option(fc.integer({ min: 1, max: 500 })),
      abortable: fc.boolean(),
      continuation: fc.boolean(),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('release' as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), index: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 300 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pause' as const), priority: priorityArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resume' as const) }) },
);

interface Submitted {
  priority: Priority;
  seq: number;
  settlements: number;
  controller: AbortController | undefined;
}

describe('ConnectionQueue invariants (property-based)', () => {
  it('never exceeds the budget, and every acquisition settles exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 8 }),
        fc.array(commandArb, { minLength: 1, maxLength: 80, size: 'max' }),
        async (budget, maxQueueSize, commands) => {
          const clock = new ManualClock();
          const queue = new ConnectionQueue(
            {
              maxConcurrentConnections: budget,
              reservedForCritical: budget > 1 ? 1 : 0,
              maxQueueSize,
              timeoutMs: 400,
              starvationAfterMs: 100,
            },
            clock,
          );
          const held: Lease[] = [];
          const submitted: Submitted[] = [];
          const check = () => {
            expect(queue.active).toBeLessThanOrEqual(budget);
            expect(queue.active).toBe(held.filter((lease) => !lease.isReleased).length);
            const byPriority = queue.stats().activeByPriority;
            for (const priority of priorities)
              expect(byPriority[priorityName(priority)]).toBe(
                held.filter((lease) => !lease.isReleased && lease.priority === priority).length,
              );
          };
          for (const command of commands) {
            switch (command.kind) {
              case 'acquire': {
                const entry: Submitted = {
                  priority: command.priority,
                  seq: submitted.length,
                  settlements: 0,
                  controller: command.abortable ? new AbortController() : undefined,
                };
                submitted.push(entry);
                queue
                  .acquire(command.priority, {
                    deadline: command.deadlineMs === null ? undefined : clock.now() + command.deadlineMs,
                    signal: entry.controller?.signal,
                    continuation: command.continuation,
                  })
                  .then(
                    (lease) => {
                      entry.settlements++;
                      held.push(lease);
                    },
                    () => {
                      entry.settlements++;
                    },
                  );
                break;
              }
              case 'release': {
                const live = held.filter((lease) => !lease.isReleased);
                if (live.length > 0) live[command.index % live.length]!.release();
                break;
              }
              case 'abort': {
                const abortable = submitted.filter((entry) => entry.controller);
                if (abortable.length > 0) abortable[command.index % abortable.length]!.controller!.abort();
                break;
              }
              case 'advance':
                await clock.advance(command.ms);
                break;
              case 'pause':
                queue.pause([command.priority]);
                break;
              case 'resume':
                queue.resume();
                break;
            }
            await Promise.resolve();
            await Promise.resolve();
            check();
          }
          // Drain: resume, release everything, let every timer fire.
          queue.resume();
          for (let round = 0; round < 50 && (queue.active > 0 || queue.queued > 0); round++) {
            for (const lease of held) lease.release();
            await clock.advance(500);
          }
          queue.close();
          await clock.advance(1);
          check();
          for (const entry of submitted) expect(entry.settlements).toBe(1);
          expect(queue.stats().peakActive).toBeLessThanOrEqual(budget);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('grants in priority order, continuations first within a priority, first-come within a lane (no reserve, no pauses, no starvation relief)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.record({ priority: priorityArb, continuation: fc.boolean() }), {
          minLength: 1,
          maxLength: 40,
          size: 'max',
        }),
        async (budget, arrivals) => {
          const clock = new ManualClock();
          const queue = new ConnectionQueue(
            {
              maxConcurrentConnections: budget,
              reservedForCritical: 0,
              maxQueueSize: 100,
              starvationAfterMs: 0,
            },
            clock,
          );
          const blockers = Array.from({ length: budget }, () => queue.tryAcquire(priorities[0]!)!);
          const grants: Array<{ priority: Priority; continuation: boolean; seq: number }> = [];
          const done = arrivals.map(({ priority, continuation }, seq) =>
            queue.acquire(priority, { continuation }).then((lease) => {
              grants.push({ priority, continuation, seq });
              lease.release();
            }),
          );
          for (const blocker of blockers) blocker.release();
          await Promise.all(done);
          const expected = arrivals
            .map(({ priority, continuation }, seq) => ({ priority, continuation, seq }))
            .sort(
              (a, b) =>
                b.priority - a.priority || Number(b.continuation) - Number(a.continuation) || a.seq - b.seq,
            );
          expect(grants).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});
