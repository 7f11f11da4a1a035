import { describe, expect, it } from 'vitest';
import { Priority } from '../priority.js';
import { createSafeguards } from '../safeguards.js';
import { createProcessLoadSampler } from './process-load-sampler.js';

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
    // The block delayed the monitor's timer by about its length (a shared machine adds, never removes).
    expect(blocked.eventLoopDelayMs).toBeGreaterThanOrEqual(200);
    expect(blocked.eventLoopUtilization).toBeGreaterThan(0.8);
    expect(blocked.heapUsedBytes).toBeGreaterThan(1024 * 1024);
    expect(blocked.rssBytes).toBeGreaterThan(blocked.heapUsedBytes!);
    // A reading covers at most its own window and the one before: two readings on, the block is gone.
    await turn(50);
    sampler.sample();
    await turn(50);
    expect(sampler.sample().eventLoopDelayMs).toBeLessThan(200);
    sampler.close?.();
  });

  it('through the safeguards: a blocked loop sheds LOW at its mark while CRITICAL still runs', async () => {
    const safeguards = createSafeguards({
      load: {
        sampler: createProcessLoadSampler(),
        sampleIntervalMs: 10,
        eventLoopDelayMs: { LOW: 100, NORMAL: 60_000 },
        eventLoopUtilization: false,
      },
    });
    await turn();
    await safeguards.run(async () => 'warm', { priority: Priority.LOW });
    blockFor(300);
    await turn();
    await expect(safeguards.run(async () => 'ran', { priority: Priority.LOW })).rejects.toMatchObject({
      type: 'QUEUE_FULL',
      reason: 'overloaded',
    });
    await expect(safeguards.run(async () => 'ran', { priority: Priority.NORMAL })).resolves.toBe('ran');
    await expect(safeguards.run(async () => 'ran', { priority: Priority.CRITICAL })).resolves.toBe('ran');
    const load = safeguards.metrics().load;
    expect(load.shedding).toEqual(['LOW', 'BATCH']);
    expect(load.sample.eventLoopDelayMs).toBeGreaterThanOrEqual(250);
    await safeguards.close();
  });

  it('refuses a bad resolution with a TypeError naming it', () => {
    expect(() => createProcessLoadSampler({ resolutionMs: 0 })).toThrow(
      'Expected resolutionMs to be an integer >= 1, got 0 (number)',
    );
  });
});
