import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Priority } from '../priority.js';
import { createSafeguards } from '../safeguards.js';
import { flushMicrotasks, ManualClock } from '../testing/manual-clock.js';
import { ConnectionQueue, type Lease } from './connection-queue.js';

const sleep = (clock: ManualClock, ms: number) =>
  new Promise<void>((resolve) => clock.setTimeout(resolve, ms));

/** One request of background work: several queries one after the other, or one transaction of several statements. */
interface Background {
  priority: Priority;
  arrivesAt: number;
  /** Hold time of each query (ms); in a transaction, of each statement on the one slot it holds. */
  queries: number[];
  transaction: boolean;
}

const backgroundArb: fc.Arbitrary<Background> = fc.record({
  priority: fc.constantFrom(Priority.LOW, Priority.BATCH, Priority.NORMAL),
  arrivesAt: fc.integer({ min: 0, max: 2000 }),
  queries: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 }),
  transaction: fc.boolean(),
});

/**
 * What a HIGH call can wait behind: requests in progress whose later operations (continuations) wait
 * ahead of new requests of their own priority, transactions holding their slot for several
 * statements, and starvation relief, which hands some grants to background work that has waited long.
 * The bound: a HIGH call waits for a slot no longer than the longest time one slot is held (a query,
 * or a whole transaction), whatever the background work does.
 */
describe('a HIGH call never waits behind continuations of lower work beyond one slot hold', () => {
  it('holds for any mix of background requests, transactions and budgets (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 8 }),
        fc.array(backgroundArb, { minLength: 4, maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 2500 }), { minLength: 1, maxLength: 8 }),
        async (budget, background, highArrivals) => {
          const clock = new ManualClock();
          const safeguards = createSafeguards({
            clock,
            defaultTimeoutMs: 600_000,
            queue: {
              maxConcurrentConnections: budget,
              reservedForCritical: 1,
              maxQueueSize: 10_000,
              timeoutMs: 600_000,
              // Relief early, so background work starves and is rescued within the run.
              starvationAfterMs: 50,
              shedAt: {},
            },
            retry: { maxAttempts: 1 },
          });
          const run = (priority: Priority, ms: number) =>
            safeguards.run(() => sleep(clock, ms), { operationType: 'read', priority });
          const longestHold = Math.max(
            1,
            ...background.map((request) =>
              request.transaction ? request.queries.reduce((a, b) => a + b, 0) : Math.max(...request.queries),
            ),
          );
          const work: Promise<unknown>[] = [];
          for (const request of background) {
            clock.setTimeout(() => {
              work.push(
                safeguards.withContext({ priority: request.priority }, async () => {
                  if (request.transaction) {
                    // One slot for the whole transaction; its statements are nested calls on it.
                    await safeguards.run(async () => {
                      for (const ms of request.queries) await run(request.priority, ms);
                    });
                  } else {
                    for (const ms of request.queries) await run(request.priority, ms);
                  }
                }),
              );
            }, request.arrivesAt);
          }
          const waits: number[] = [];
          for (const at of highArrivals) {
            clock.setTimeout(() => {
              const arrived = clock.now();
              work.push(
                safeguards.run(
                  async () => {
                    waits.push(clock.now() - arrived);
                    await sleep(clock, 5);
                  },
                  { operationType: 'write', priority: Priority.HIGH },
                ),
              );
            }, at);
          }
          // Longer than all the work can take one slot at a time.
          await clock.advance(3000 + background.length * longestHold + highArrivals.length * 5);
          await Promise.all(work);
          expect(waits).toHaveLength(highArrivals.length);
          // HIGH calls also wait for one another (5 ms each): that is not lower work.
          for (const wait of waits) expect(wait).toBeLessThanOrEqual(longestHold + highArrivals.length * 5);
          await safeguards.close();
        },
      ),
      { numRuns: 60 },
    );
  });

  /**
   * Regression: with one ordinary slot, starvation relief handed the slot a HIGH call was waiting for
   * to a starving LOW continuation, so the HIGH call waited for two holds: the one in progress when it
   * arrived, then the LOW one. Relief passes over a HIGH waiter only where a second ordinary slot will
   * free within the hold in progress.
   */
  it.each([
    { budget: 2, limit: undefined, case: 'a budget of 2 with 1 reserved' },
    { budget: 8, limit: 1, case: 'a budget of 8 whose effective limit a load signal lowered to 1' },
  ])(
    'with one ordinary slot ($case), starvation relief never hands the slot a HIGH call waits for to LOW work',
    async ({ budget, limit }) => {
      const clock = new ManualClock();
      const queue = new ConnectionQueue(
        {
          maxConcurrentConnections: budget,
          reservedForCritical: 1,
          starvationAfterMs: 100,
          starvationShare: 0.1,
          maxQueueSize: 1000,
          timeoutMs: 600_000,
        },
        clock,
      );
      if (limit !== undefined) queue.setLimit(limit);
      const granted: string[] = [];
      let holder: Lease = queue.tryAcquire(Priority.LOW)!;
      const wait = (priority: Priority, name: string, continuation = false) => {
        void queue.acquire(priority, { continuation }).then((lease) => {
          granted.push(name);
          holder = lease;
        });
      };
      let normals = 0;
      /** NORMAL work keeps the slot busy: one more waiter, then the holder's 20 ms hold ends. */
      const normalGrant = async () => {
        wait(Priority.NORMAL, `normal-${normals++}`);
        await clock.advance(20);
        holder.release();
        await flushMicrotasks();
      };
      // A LOW request's next query waits (a continuation) until relief hands it a grant.
      wait(Priority.LOW, 'low-1', true);
      while (!granted.includes('low-1')) await normalGrant();
      // Another LOW continuation waits through nine more grants: it starves, and relief is due again.
      wait(Priority.LOW, 'low-2', true);
      for (let i = 0; i < 9; i++) await normalGrant();
      expect(granted).not.toContain('low-2');
      // A HIGH call arrives while a NORMAL call holds the slot.
      wait(Priority.HIGH, 'high');
      await clock.advance(20);
      holder.release();
      await flushMicrotasks();
      // The hold in progress when HIGH arrived has ended: the slot is HIGH's, not the starving LOW's.
      expect(granted.at(-1)).toBe('high');
      holder.release();
      await flushMicrotasks();
      // LOW still gets its turn once no HIGH call waits (relief is still due, over the NORMAL waiter).
      expect(granted.at(-1)).toBe('low-2');
    },
  );

  it('with two ordinary slots, relief may pass over a HIGH waiter once: the other slot frees within the hold', async () => {
    const clock = new ManualClock();
    const queue = new ConnectionQueue(
      {
        maxConcurrentConnections: 3,
        reservedForCritical: 1,
        starvationAfterMs: 100,
        starvationShare: 0.1,
        maxQueueSize: 1000,
        timeoutMs: 600_000,
      },
      clock,
    );
    const granted: string[] = [];
    const holders: Lease[] = [queue.tryAcquire(Priority.LOW)!, queue.tryAcquire(Priority.LOW)!];
    const wait = (priority: Priority, name: string, continuation = false) => {
      void queue.acquire(priority, { continuation }).then((lease) => {
        granted.push(name);
        holders.push(lease);
      });
    };
    let normals = 0;
    const normalGrant = async () => {
      wait(Priority.NORMAL, `normal-${normals++}`);
      await clock.advance(20);
      holders.shift()!.release();
      await flushMicrotasks();
    };
    wait(Priority.LOW, 'low-1', true);
    while (!granted.includes('low-1')) await normalGrant();
    wait(Priority.LOW, 'low-2', true);
    for (let i = 0; i < 9; i++) await normalGrant();
    wait(Priority.HIGH, 'high');
    // Both slots are held by work granted before HIGH arrived. The first release goes to the starving
    // LOW continuation; the second, within the same hold time, to HIGH.
    holders.shift()!.release();
    await flushMicrotasks();
    holders.shift()!.release();
    await flushMicrotasks();
    expect(granted.slice(-2)).toEqual(['low-2', 'high']);
  });
});
