import { describe, expect, it } from 'vitest';
import { defaultSimulationOptions, runSimulation } from './run-simulation.js';

describe('the shared-budget simulation (a short run)', () => {
  it('drives the real budget code: never above the capacity, the capacity used, priorities in order', async () => {
    const result = await runSimulation({
      ...defaultSimulationOptions,
      instances: 60,
      capacity: 12,
      seconds: 6,
      load: 2,
      seed: 7,
      crashes: 0,
    });
    expect(result.maxInUse).toBeLessThanOrEqual(12);
    expect(result.maxInUse).toBeGreaterThanOrEqual(10);
    expect(result.utilisation).toBeGreaterThan(0.3);
    expect(result.redisCallsPerSecond).toBeGreaterThan(0);
    expect(result.firstSlotNew.count).toBeGreaterThan(0);
    const high = result.waitByPriority.HIGH!;
    const normal = result.waitByPriority.NORMAL!;
    expect(high.count).toBeGreaterThan(100);
    expect(high.p95).toBeLessThan(normal.p95);
  });

  it('gives a killed instance’s slots to others once its connection is gone and its lease is stale, well before the lease ends', async () => {
    const run = (reclaim: number) =>
      runSimulation({
        ...defaultSimulationOptions,
        instances: 60,
        capacity: 12,
        seconds: 10,
        load: 2,
        seed: 3,
        crashes: 4,
        reclaim,
      });
    const reclaimed = await run(1);
    expect(reclaimed.maxInUse).toBeLessThanOrEqual(12);
    expect(reclaimed.crashFreed.count).toBe(4);
    expect(reclaimed.crashFreed.reaped).toBe(4);
    // staleMs (1 500 ms) after its last renewal, plus at most staleMs / 4 until suspects are looked for.
    expect(reclaimed.crashFreed.max).toBeLessThan(2500);
    const expired = await run(0);
    expect(expired.crashFreed.reaped).toBe(0);
    // A lease runs out leaseMs after its last renewal: a killed instance renews no more.
    expect(expired.crashFreed.p50).toBeGreaterThanOrEqual(4500);
    expect(expired.crashFreed.max).toBeLessThanOrEqual(5050);
  });
});
