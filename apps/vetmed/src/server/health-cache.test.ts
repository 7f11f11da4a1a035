import { createSafeguards, type Safeguards } from '@db-safeguards/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createHealthCache } from './health-cache.js';

/** Safeguards whose database probe counts its runs and waits for `answer()` before answering. */
function probedSafeguards() {
  let runs = 0;
  let waiting: Array<() => void> = [];
  const safeguards = createSafeguards({
    health: {
      probe: () => {
        runs++;
        return new Promise<void>((resolve) => waiting.push(resolve));
      },
    },
  });
  return {
    safeguards,
    get runs() {
      return runs;
    },
    /** Waits until a probe is running, then lets every running probe answer. */
    async answer() {
      while (waiting.length === 0) await new Promise((resolve) => setImmediate(resolve));
      for (const resolve of waiting) resolve();
      waiting = [];
    },
  };
}

let open: Safeguards | undefined;

afterEach(async () => {
  await open?.close();
  open = undefined;
});

describe('createHealthCache', () => {
  it('runs one probe for every caller that arrives while it runs', async () => {
    const probe = probedSafeguards();
    open = probe.safeguards;
    const cache = createHealthCache(probe.safeguards, { maxAgeMs: 1000, now: () => 0 });
    const reports = Array.from({ length: 50 }, () => cache.report());
    await probe.answer();
    const settled = await Promise.all(reports);
    expect(probe.runs).toBe(1);
    expect(cache.reportsMade).toBe(1);
    expect(new Set(settled).size).toBe(1);
    expect(settled[0]?.components.database?.status).toBe('healthy');
  });

  it('answers from the kept report until it is maxAgeMs old, then probes again', async () => {
    const probe = probedSafeguards();
    open = probe.safeguards;
    let now = 10_000;
    const cache = createHealthCache(probe.safeguards, { maxAgeMs: 1000, now: () => now });
    const first = cache.report();
    await probe.answer();
    await first;
    now += 999;
    expect(await cache.report()).toBe(await first);
    expect(probe.runs).toBe(1);
    now += 1;
    const second = cache.report();
    await probe.answer();
    expect(await second).not.toBe(await first);
    expect(probe.runs).toBe(2);
  });

  it('keeps nothing with maxAgeMs 0, and forgets the report on invalidate()', async () => {
    const probe = probedSafeguards();
    open = probe.safeguards;
    const uncached = createHealthCache(probe.safeguards, { maxAgeMs: 0, now: () => 0 });
    const a = uncached.report();
    await probe.answer();
    await a;
    const b = uncached.report();
    await probe.answer();
    await b;
    expect(probe.runs).toBe(2);

    const cache = createHealthCache(probe.safeguards, { maxAgeMs: 60_000, now: () => 0 });
    const kept = cache.report();
    await probe.answer();
    await kept;
    probe.safeguards.pause([0]);
    cache.invalidate();
    const fresh = cache.report();
    await probe.answer();
    expect((await fresh).components.queue.status).toBe('degraded');
    expect(probe.runs).toBe(4);
  });

  it('shows the kept report through latest() without probing, however old, until invalidate()', async () => {
    const probe = probedSafeguards();
    open = probe.safeguards;
    let now = 5_000;
    const cache = createHealthCache(probe.safeguards, { maxAgeMs: 1000, now: () => now });
    expect(cache.latest()).toBeUndefined();
    const made = cache.report();
    await probe.answer();
    const report = await made;
    now += 60_000;
    expect(cache.latest()).toEqual({ report, madeAt: 5_000 });
    expect(probe.runs).toBe(1);
    cache.invalidate();
    expect(cache.latest()).toBeUndefined();
  });

  it('refuses a bad maxAgeMs', () => {
    const probe = probedSafeguards();
    open = probe.safeguards;
    expect(() => createHealthCache(probe.safeguards, { maxAgeMs: -1 })).toThrow(
      'Expected maxAgeMs to be an integer >= 0, got -1',
    );
  });
});
