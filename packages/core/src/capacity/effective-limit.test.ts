import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Priority, priorities } from '../priority.js';
import { ConnectionQueue, type Lease } from '../queue/connection-queue.js';
import { ManualClock } from '../testing/manual-clock.js';
import { EffectiveLimit, type LimitChange } from './effective-limit.js';

describe('EffectiveLimit', () => {
  it('is the smallest input, never above the configured budget, and says which input sets it', () => {
    const applied: number[] = [];
    const limit = new EffectiveLimit(8, (n) => applied.push(n));
    const changes: LimitChange[] = [];
    limit.onChange((change) => changes.push(change));
    limit.set('database', 12);
    expect(limit.limit).toBe(8);
    expect(limit.limitedBy).toBeUndefined();
    limit.set('database', 4);
    limit.set('shared', 2);
    expect(limit.limit).toBe(2);
    expect(limit.limitedBy).toBe('shared');
    limit.set('event-loop', 3); // one more signal: nothing else changes
    expect(limit.limit).toBe(2);
    limit.delete('shared');
    expect([limit.limit, limit.limitedBy]).toEqual([3, 'event-loop']);
    expect(applied).toEqual([4, 2, 3]);
    expect(changes.map((c) => [c.previous, c.limit, c.limitedBy])).toEqual([
      [8, 4, 'database'],
      [4, 2, 'shared'],
      [2, 3, 'event-loop'],
    ]);
    expect(limit.snapshot()).toEqual({ database: 4, 'event-loop': 3 });
  });

  it('tells each change the most slots held since the previous one (what a pool may have opened)', async () => {
    const queue = new ConnectionQueue({ maxConcurrentConnections: 8, reservedForCritical: 0 });
    const limit = new EffectiveLimit(
      8,
      (n) => queue.setLimit(n),
      () => queue.takeHeldPeak(),
    );
    const changes: LimitChange[] = [];
    limit.onChange((change) => changes.push(change));
    const leases = await Promise.all(Array.from({ length: 5 }, () => queue.acquire(0 as Priority)));
    for (const lease of leases.slice(0, 4)) lease.release();
    limit.set('signal', 3);
    limit.set('signal', 2);
    leases[4]!.release();
    expect(changes.map((c) => c.peakHeld)).toEqual([5, 1]);
    queue.close();
  });

  it('refuses a limit that is not a whole number from 0, naming the input', () => {
    const limit = new EffectiveLimit(8, () => {});
    expect(() => limit.set('shared', -1)).toThrow(/limit input "shared"/);
    expect(() => limit.set('shared', 1.5)).toThrow(TypeError);
  });

  it('a queue under a changing limit never grants a slot beyond the limit in force (property)', async () => {
    type Command =
      | { kind: 'acquire'; priority: Priority }
      | { kind: 'release'; index: number }
      | { kind: 'limit'; value: number };
    const command: fc.Arbitrary<Command> = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({
          kind: fc.constant('acquire' as const),
          priority: fc.constantFrom(...priorities),
        }),
      },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), index: fc.nat() }) },
      {
        weight: 2,
        arbitrary: fc.record({ kind: fc.constant('limit' as const), value: fc.integer({ min: 0, max: 10 }) }),
      },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(command, { maxLength: 80 }),
        async (budget, commands) => {
          const clock = new ManualClock();
          const queue = new ConnectionQueue({ maxConcurrentConnections: budget, maxQueueSize: 100 }, clock);
          const limit = new EffectiveLimit(budget, (n) => queue.setLimit(n));
          const held: Lease[] = [];
          const grant = (lease: Lease) => {
            // Every grant happens with fewer slots held than the limit in force allows.
            expect(queue.active).toBeLessThanOrEqual(limit.limit);
            held.push(lease);
          };
          for (const c of commands) {
            if (c.kind === 'acquire') queue.acquire(c.priority).then(grant, () => {});
            else if (c.kind === 'release' && held.length > 0)
              held.splice(c.index % held.length, 1)[0]!.release();
            else if (c.kind === 'limit') limit.set('signal', Math.min(c.value, budget));
            await Promise.resolve();
            await Promise.resolve();
          }
          // Raise the limit back: every waiter is served up to the budget.
          limit.delete('signal');
          await Promise.resolve();
          await Promise.resolve();
          expect(queue.active).toBe(held.length);
          // Whoever still waits does so because the budget itself is full (the CRITICAL reserve aside).
          if (queue.queued > 0)
            expect(queue.active).toBeGreaterThanOrEqual(budget - queue.options.reservedForCritical);
          expect(queue.stats().effectiveLimit).toBe(budget);
          while (held.length > 0) held.pop()!.release();
          queue.close();
        },
      ),
      { numRuns: 150 },
    );
  });
});
