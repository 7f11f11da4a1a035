import { setTimeout as sleep } from 'node:timers/promises';
import { createSafeguards, Priority, type Safeguards } from '@db-safeguards/core';
import { startTestRedis, type TestRedis } from '@db-safeguards/test-redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBudget } from '../src/index.js';

type PriorityValue = (typeof Priority)[keyof typeof Priority];

/**
 * `createSafeguards({ shared })` with the Redis budget, on a real redis-server: the instances' queues
 * together never run more than the capacity; Redis stopped, each falls back to a local limit (never
 * none), health says degraded, and they rejoin when it returns.
 */
let redis: TestRedis;
let keys = 0;
const opened: Safeguards[] = [];

beforeAll(async () => {
  redis = await startTestRedis({ externalUrl: false });
  // A Redis up for less than a lease starts by learning (see shared-budget.test.ts); not the subject here.
  await sleep(1600);
}, 30_000);

afterAll(async () => {
  await Promise.all(opened.map((s) => s.close({ drainTimeoutMs: 0 })));
  await redis.stop();
});

async function instances(count: number, capacity: number) {
  const key = `${redis.keyPrefix}budget:${keys++}`;
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const client = await redis.connect();
      const shared = createRedisBudget({
        client,
        key,
        capacity,
        leaseMs: 1500,
        refreshMs: 200,
        instanceId: `i${i}`,
      });
      await shared.ready();
      const safeguards = createSafeguards({
        shared,
        queue: { maxConcurrentConnections: 8, maxQueueSize: 1000 },
      });
      opened.push(safeguards);
      return safeguards;
    }),
  );
}

/** Work that counts how many run at once across every instance of this process. */
function counter() {
  let running = 0;
  let peak = 0;
  return {
    op: async () => {
      running++;
      peak = Math.max(peak, running);
      await sleep(3);
      running--;
    },
    get peak() {
      return peak;
    },
    reset() {
      peak = running;
    },
  };
}

async function closedLoops(
  safeguards: Safeguards,
  op: () => Promise<void>,
  loops: number,
  ms: number,
  priority: PriorityValue = Priority.NORMAL,
) {
  const until = Date.now() + ms;
  let done = 0;
  const failures: unknown[] = [];
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while (Date.now() < until) {
        try {
          await safeguards.run(op, { operationType: 'read', priority, timeoutMs: 10_000 });
          done++;
        } catch (error) {
          failures.push(error);
        }
      }
    }),
  );
  return { done, failures };
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('createSafeguards({ shared: createRedisBudget(...) })', () => {
  it('three instances with a budget of 8 each never run more than the capacity of 4 together, and all of it is used', async () => {
    const [a, b, c] = await instances(3, 4);
    const work = counter();
    const results = await Promise.all([a!, b!, c!].map((s) => closedLoops(s, work.op, 10, 1500)));
    expect(results.flatMap((r) => r.failures)).toEqual([]);
    expect(work.peak).toBeLessThanOrEqual(4);
    expect(work.peak).toBe(4);
    const metrics = a!.metrics().capacity;
    expect(metrics.shared).toMatchObject({ mode: 'shared', capacity: 4 });
    expect(metrics.inputs.shared).toBeLessThanOrEqual(4);
    expect((await a!.health()).components.capacity.status).toBe('healthy');
  }, 30_000);

  it('a HIGH call in one instance is not starved by BATCH work in another', async () => {
    const [batch, high] = await instances(2, 4);
    const work = counter();
    const [batchRun, highRun] = await Promise.all([
      closedLoops(batch!, work.op, 20, 2000, Priority.BATCH),
      (async () => {
        await sleep(300); // the BATCH instance holds the capacity first
        return closedLoops(high!, work.op, 20, 1700, Priority.HIGH);
      })(),
    ]);
    expect(work.peak).toBeLessThanOrEqual(4);
    // Per second while both ran, HIGH got most of the capacity.
    expect(highRun.done / 1.7).toBeGreaterThan((2 * batchRun.done) / 2);
  }, 30_000);

  it('Redis stopped: each falls back to a local limit (never none) and says degraded; Redis back: shared again', async () => {
    const group = await instances(2, 4);
    const work = counter();
    await Promise.all(group.map((s) => closedLoops(s, work.op, 5, 300)));
    await redis.stopServer();
    try {
      // The grant lasts its lease (1.5 s), then the local fallback: capacity ÷ instances last seen.
      await waitFor(
        () => group.every((s) => s.metrics().capacity.shared?.mode === 'fallback'),
        5000,
        'fallback',
      );
      const health = await group[0]!.health();
      expect(health.httpStatus).toBe(206);
      expect(health.components.capacity).toMatchObject({ status: 'degraded' });
      expect(health.components.capacity.message).toMatch(/unreachable/);
      expect(group[0]!.metrics().capacity).toMatchObject({ effective: 2, limitedBy: 'shared' });
      work.reset();
      const during = await Promise.all(group.map((s) => closedLoops(s, work.op, 10, 800)));
      expect(during.flatMap((r) => r.failures)).toEqual([]);
      expect(during.every((r) => r.done > 0)).toBe(true);
      expect(work.peak).toBeLessThanOrEqual(4);
    } finally {
      await redis.startServer();
    }
    await waitFor(() => group.every((s) => s.metrics().capacity.shared?.mode === 'shared'), 10_000, 'rejoin');
    expect((await group[0]!.health()).components.capacity.status).toBe('healthy');
  }, 40_000);

  it('close() gives the slots back at once, not when the lease runs out', async () => {
    const [a, b] = await instances(2, 4);
    const work = counter();
    await Promise.all([closedLoops(a!, work.op, 8, 500), closedLoops(b!, work.op, 8, 500)]);
    await a!.close();
    expect(a!.metrics().capacity.shared?.mode).toBe('closed');
    const started = Date.now();
    const loops = closedLoops(b!, work.op, 8, 700);
    await waitFor(() => b!.metrics().capacity.inputs.shared === 4, 1000, 'the whole capacity');
    expect(Date.now() - started).toBeLessThan(1000);
    await loops;
  }, 20_000);
});
