import { describe, expect, it } from 'vitest';
import { Priority } from '../priority.js';
import { createSafeguards } from '../safeguards.js';
import { createProcessLoadSampler, EventLoopProbe } from './process-load-sampler.js';

/** Keeps the event loop busy for `ms` (what a CPU-bound burst of requests does to it). */
function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

/** Lets the event loop turn, so the delay monitor records the lateness of its timer. */
const turn = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms));

describe('createProcessLoadSampler (the real event loop and memory of this process)', () => {
  it('reads a blocked event loop as lag and utilisation, and memory in bytes', async () => {
    const sampler = createProcessLoadSampler();
    await turn();
    sampler.sample();
    blockFor(250);
    await turn();
    const blocked = sampler.sample();
    // The block delayed the probe's timer by about its length (a shared machine adds, never removes).
    expect(blocked.eventLoopDelayMs).toBeGreaterThanOrEqual(200);
    expect(blocked.eventLoopUtilization).toBeGreaterThan(0.8);
    expect(blocked.heapUsedBytes).toBeGreaterThan(1024 * 1024);
    expect(blocked.rssBytes).toBeGreaterThan(blocked.heapUsedBytes!);
    // Each reading covers the window since the previous one: the block is not read again.
    await turn(100);
    expect(sampler.sample().eventLoopDelayMs).toBeLessThan(200);
    sampler.close?.();
  });

  // Regression: read from perf_hooks.monitorEventLoopDelay's p99, this block read as 16 ms.
  it('one long block in a long window is read by the time it took, not as one turn among many', async () => {
    const sampler = createProcessLoadSampler();
    sampler.sample();
    await turn(1200);
    blockFor(800);
    await turn();
    expect(sampler.sample().eventLoopDelayMs).toBeGreaterThanOrEqual(700);
    sampler.close?.();
  });

  it('a block still running when the reading is taken is read too', () => {
    const sampler = createProcessLoadSampler();
    sampler.sample();
    blockFor(250);
    expect(sampler.sample().eventLoopDelayMs).toBeGreaterThanOrEqual(200);
    sampler.close?.();
  });

  it('through the safeguards: a blocked loop sheds LOW at its mark while CRITICAL still runs', async () => {
    const safeguards = createSafeguards({
      load: {
        sampler: createProcessLoadSampler(),
        // Readings at most once a second: the checks below all see the one taken after the block,
        // which sheds at once.
        sampleIntervalMs: 1000,
        sustainedReadings: 1,
        eventLoopDelayMs: { LOW: 100, NORMAL: 60_000 },
        eventLoopUtilization: false,
        // The block leaves the loop fully busy over the window: this test is about the delay marks.
        utilizationTarget: false,
      },
    });
    await turn();
    await safeguards.run(async () => 'warm', { priority: Priority.LOW });
    // Longer than the interval, so the next call takes a reading.
    blockFor(1100);
    await turn();
    await expect(safeguards.run(async () => 'ran', { priority: Priority.LOW })).rejects.toMatchObject({
      type: 'QUEUE_FULL',
      reason: 'overloaded',
    });
    await expect(safeguards.run(async () => 'ran', { priority: Priority.NORMAL })).resolves.toBe('ran');
    await expect(safeguards.run(async () => 'ran', { priority: Priority.CRITICAL })).resolves.toBe('ran');
    const load = safeguards.metrics().load;
    expect(load.shedding).toEqual(['LOW', 'BATCH']);
    expect(load.sample.eventLoopDelayMs).toBeGreaterThanOrEqual(1000);
    await safeguards.close();
  });

  it('through the safeguards: a loop kept busy past the utilisation target holds back NORMAL, never HIGH', async () => {
    const safeguards = createSafeguards({
      load: {
        sampler: createProcessLoadSampler(),
        sampleIntervalMs: 50,
        eventLoopDelayMs: false,
        eventLoopUtilization: false,
        utilizationTarget: 0.9,
      },
    });
    await safeguards.run(async () => 'warm', { priority: Priority.NORMAL });
    // Busy for whole windows, one after the other (past the 300 ms a burst may last), each call
    // taking the reading of the window before it.
    for (let i = 0; i < 10; i++) {
      blockFor(60);
      await safeguards.run(async () => 'ran', { priority: Priority.HIGH });
    }
    const load = safeguards.metrics().load;
    expect(load.sample.eventLoopUtilization).toBeGreaterThan(0.9);
    expect(load.normalShare).toBeLessThan(1);
    expect(load.shedding).toEqual(['NORMAL', 'LOW', 'BATCH']);
    await expect(safeguards.run(async () => 'ran', { priority: Priority.LOW })).rejects.toMatchObject({
      reason: 'overloaded',
    });
    await expect(safeguards.run(async () => 'ran', { priority: Priority.HIGH })).resolves.toBe('ran');
    await safeguards.close();
  });

  it('keeps a bounded number of turns when nobody reads (an idle process admits nothing for hours)', async () => {
    const probe = new EventLoopProbe(1, () => performance.now(), 16);
    await turn(150);
    expect(probe.recorded).toBeGreaterThan(0);
    expect(probe.recorded).toBeLessThanOrEqual(16);
    expect(probe.read()).toBeGreaterThanOrEqual(0);
    probe.stop();
  });

  it('pauses its timer when nobody reads, and the next reading restarts it without reading the pause as lag', async () => {
    const probe = new EventLoopProbe(5, () => performance.now(), 4096, 100);
    await turn(300);
    // Unread for 100 ms: paused, and no turn is recorded any more.
    expect(probe.running).toBe(false);
    const recorded = probe.recorded;
    await turn(200);
    expect(probe.recorded).toBe(recorded);
    // 200 ms paused, yet the reading covers the short turns recorded before the pause only.
    expect(probe.read()).toBeLessThan(100);
    expect(probe.running).toBe(true);
    // Read again soon enough, it keeps running and sees a block as before.
    blockFor(150);
    await turn(20);
    expect(probe.read()).toBeGreaterThanOrEqual(120);
    expect(probe.running).toBe(true);
    probe.stop();
    expect(probe.running).toBe(false);
    // Stopped for good: a reading does not restart it.
    probe.read();
    expect(probe.running).toBe(false);
  });

  it('readings for reports (health, a dashboard) neither keep the timer running nor wake it', async () => {
    const probe = new EventLoopProbe(5, () => performance.now(), 4096, 100);
    // A dashboard reading every 30 ms, no call admitted: the timer still pauses.
    for (let i = 0; i < 10; i++) {
      await turn(30);
      probe.read(false);
    }
    expect(probe.running).toBe(false);
    await turn(50);
    expect(probe.read(false)).toBe(0);
    expect(probe.running).toBe(false);
    // A call admitted: it runs again.
    probe.read(true);
    expect(probe.running).toBe(true);
    probe.stop();
  });

  it('through the process sampler: an idle process stops its probe, and the first admission restarts it', async () => {
    const sampler = createProcessLoadSampler({ resolutionMs: 5, pauseAfterMs: 100 });
    sampler.sample('admission');
    await turn(250);
    expect(sampler.sample('report').eventLoopDelayMs).toBeLessThan(50);
    await turn(100);
    // Paused: nothing recorded since, and the report reads no lag.
    expect(sampler.sample('report').eventLoopDelayMs).toBe(0);
    sampler.sample('admission');
    blockFor(150);
    await turn(20);
    expect(sampler.sample('admission').eventLoopDelayMs).toBeGreaterThanOrEqual(120);
    sampler.close?.();
  });

  it('slowed, it still sees a block of the loop longer than its second, and reads no turn older than pauseAfterMs', async () => {
    const probe = new EventLoopProbe(5, () => performance.now(), 4096, 100);
    await turn(300);
    expect(probe.running).toBe(false);
    // A job that admits no call blocks the loop for 1.6 s: the slowed timer fires late.
    blockFor(1600);
    await turn(20);
    expect(probe.read(false)).toBeGreaterThanOrEqual(400);
    // A block read by nobody for longer than pauseAfterMs is not read as now.
    const fresh = new EventLoopProbe(5, () => performance.now(), 4096, 100);
    fresh.read();
    blockFor(150);
    await turn(300);
    expect(fresh.read()).toBeLessThan(100);
    probe.stop();
    fresh.stop();
  });

  it('quiet, its timer fires at the quiet interval, still sees a long turn, and goes back to its resolution', async () => {
    const probe = new EventLoopProbe(5, () => performance.now(), 4096, 10_000, 50);
    probe.read();
    probe.setQuiet(true);
    expect(probe.intervalMs).toBe(50);
    probe.setQuiet(true);
    expect(probe.intervalMs).toBe(50);
    expect(probe.running).toBe(true);
    // Read soon after the switch: a firing not yet due is no turn, and no lag is read.
    await turn(20);
    expect(probe.read()).toBe(0);
    // A 150 ms block makes the quiet timer late by the block less at most its interval.
    await turn(70);
    probe.read();
    blockFor(150);
    await turn(70);
    expect(probe.read()).toBeGreaterThanOrEqual(150 - 50);
    probe.setQuiet(false);
    expect(probe.intervalMs).toBe(5);
    probe.stop();
    expect(probe.intervalMs).toBeUndefined();
  });

  it('quiet and then slowed for want of readers, it wakes to the quiet interval', async () => {
    const probe = new EventLoopProbe(5, () => performance.now(), 4096, 100, 50);
    probe.setQuiet(true);
    await turn(250);
    expect(probe.running).toBe(false);
    expect(probe.intervalMs).toBe(1000);
    probe.read();
    expect(probe.intervalMs).toBe(50);
    // Leaving the quiet state while slowed takes effect when it wakes.
    const slowed = new EventLoopProbe(5, () => performance.now(), 4096, 100, 50);
    await turn(250);
    slowed.setQuiet(true);
    expect(slowed.intervalMs).toBe(1000);
    slowed.read();
    expect(slowed.intervalMs).toBe(50);
    probe.stop();
    slowed.stop();
  });

  it('through the process sampler: ten quiet readings make the probe quiet, a busy one wakes it', async () => {
    const sampler = createProcessLoadSampler({ resolutionMs: 5, quietResolutionMs: 40 });
    const intervals: Array<number | undefined> = [];
    const setQuiet = EventLoopProbe.prototype.setQuiet;
    // The sampler's probe is private: its switches of interval are seen through the prototype.
    EventLoopProbe.prototype.setQuiet = function (this: EventLoopProbe, quiet: boolean) {
      const before = this.intervalMs;
      setQuiet.call(this, quiet);
      if (this.intervalMs !== before) intervals.push(this.intervalMs);
    };
    try {
      sampler.sample('admission');
      for (let i = 0; i < 9; i++) {
        await turn(20);
        expect(sampler.sample('admission').eventLoopUtilization).toBeLessThan(0.3);
      }
      // Nine quiet readings: still at its resolution.
      expect(intervals).toEqual([]);
      await turn(20);
      sampler.sample('admission');
      expect(intervals).toEqual([40]);
      // Busy: a block taking most of the window reads as lag, less at most the quiet interval.
      blockFor(300);
      await turn(10);
      const busy = sampler.sample('admission');
      expect(busy.eventLoopUtilization).toBeGreaterThanOrEqual(0.5);
      expect(busy.eventLoopDelayMs).toBeGreaterThanOrEqual(300 - 40 - 20);
      expect(intervals).toEqual([40, 5]);
    } finally {
      EventLoopProbe.prototype.setQuiet = setQuiet;
      sampler.close?.();
    }
  });

  it('refuses a bad quiet interval with a TypeError naming it', () => {
    expect(() => createProcessLoadSampler({ quietResolutionMs: 0 })).toThrow(
      'Expected quietResolutionMs to be an integer >= 1, got 0 (number)',
    );
  });

  it('a block long enough to pause the timer is still read by the next reading', async () => {
    const probe = new EventLoopProbe(5, () => performance.now(), 4096, 100);
    await turn(20);
    probe.read();
    blockFor(250);
    await turn(20);
    expect(probe.read()).toBeGreaterThanOrEqual(200);
    probe.stop();
  });

  it('refuses a bad resolution with a TypeError naming it', () => {
    expect(() => createProcessLoadSampler({ resolutionMs: 0 })).toThrow(
      'Expected resolutionMs to be an integer >= 1, got 0 (number)',
    );
  });

  it('reads memory at most once per memoryIntervalMs and reuses that reading in between', async () => {
    const realMemoryUsage = process.memoryUsage;
    let reads = 0;
    let heapUsed = 10 * 2 ** 20;
    const counting = Object.assign(
      () => {
        reads++;
        return { ...realMemoryUsage.call(process), heapUsed };
      },
      { rss: realMemoryUsage.rss },
    );
    process.memoryUsage = counting as typeof process.memoryUsage;
    try {
      const sampler = createProcessLoadSampler({ memoryIntervalMs: 200 });
      expect(sampler.sample().heapUsedBytes).toBe(10 * 2 ** 20);
      heapUsed = 20 * 2 ** 20;
      // Within the interval: the earlier reading.
      expect(sampler.sample().heapUsedBytes).toBe(10 * 2 ** 20);
      expect(reads).toBe(1);
      await turn(220);
      expect(sampler.sample().heapUsedBytes).toBe(20 * 2 ** 20);
      expect(reads).toBe(2);
      sampler.close?.();
      const everyTime = createProcessLoadSampler({ memoryIntervalMs: 0 });
      everyTime.sample();
      everyTime.sample();
      expect(reads).toBe(4);
      everyTime.close?.();
    } finally {
      process.memoryUsage = realMemoryUsage;
    }
  });

  it('refuses a bad memory interval with a TypeError naming it', () => {
    expect(() => createProcessLoadSampler({ memoryIntervalMs: -1 })).toThrow('memoryIntervalMs');
  });
});
