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
});
