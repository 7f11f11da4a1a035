import { describe, expect, it } from 'vitest';
import { createSafeguards } from '../safeguards.js';

/** A promise and the function that resolves it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('requests in progress go first (withContext blocks)', () => {
  it("a request's later operation waits ahead of a new request's first one of the same priority", async () => {
    const safeguards = createSafeguards({ queue: { maxConcurrentConnections: 1, reservedForCritical: 0 } });
    const order: string[] = [];
    const read = { operationType: 'read' } as const;
    const started = gate();
    const blockerRuns = gate();

    // Request A runs its first query, then (while the slot is busy) asks for a second one.
    const requestA = safeguards.withContext(read, async () => {
      await safeguards.run(async () => order.push('A1'), read);
      await started.promise;
      await safeguards.run(async () => order.push('A2'), read);
    });
    // Someone else holds the only slot meanwhile.
    const blocker = safeguards.run(() => blockerRuns.promise, read);
    // Request B's first query arrives first, then A's second: A's goes first all the same.
    const requestB = safeguards.withContext(read, () => safeguards.run(async () => order.push('B1'), read));
    await Promise.resolve();
    started.open();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(safeguards.queue.stats().queuedByPriority.NORMAL).toBe(2);
    blockerRuns.open();
    await Promise.all([requestA, requestB, blocker]);
    expect(order).toEqual(['A1', 'A2', 'B1']);
    await safeguards.close();
  });

  it('operations outside any block, and the first operation of each request, keep first-come order', async () => {
    const safeguards = createSafeguards({ queue: { maxConcurrentConnections: 1, reservedForCritical: 0 } });
    const order: string[] = [];
    const read = { operationType: 'read' } as const;
    const blockerRuns = gate();
    const blocker = safeguards.run(() => blockerRuns.promise, read);
    const calls = [
      safeguards.run(async () => order.push('plain-1'), read),
      safeguards.withContext(read, () => safeguards.run(async () => order.push('request-1'), read)),
      safeguards.run(async () => order.push('plain-2'), read),
      safeguards.withContext(read, () => safeguards.run(async () => order.push('request-2'), read)),
    ];
    blockerRuns.open();
    await Promise.all([blocker, ...calls]);
    expect(order).toEqual(['plain-1', 'request-1', 'plain-2', 'request-2']);
    await safeguards.close();
  });
});
