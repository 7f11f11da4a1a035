import { describe, expect, it } from 'vitest';
import type { Clock } from '../internal/clock.js';
import { createSafeguards } from '../safeguards.js';
import { flushMicrotasks, ManualClock } from '../testing/manual-clock.js';

const sleep = (clock: Clock, ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));

/** Runs `count` operations of `ms` each, all at once (within the budget), on the manual clock. */
async function runTaking(
  safeguards: ReturnType<typeof createSafeguards>,
  clock: ManualClock,
  count: number,
  ms: number,
) {
  const runs = Array.from({ length: count }, () =>
    safeguards.run(() => sleep(clock, ms), { operationType: 'read' }),
  );
  await flushMicrotasks();
  await clock.advance(ms);
  await Promise.all(runs);
}

describe('health: latency thresholds (p95 of operation durations, and the probe)', () => {
  const setup = () => {
    const clock = new ManualClock();
    const safeguards = createSafeguards({
      clock,
      queue: { maxConcurrentConnections: 50, maxQueueSize: 50 },
      defaultTimeoutMs: 60_000,
      health: { probe: () => sleep(clock, probeMs), probeTimeoutMs: 10_000 },
    });
    let probeMs = 0;
    return {
      clock,
      safeguards,
      setProbe: (ms: number) => {
        probeMs = ms;
      },
    };
  };

  it('is healthy below 2 s, degraded from 2 s and unhealthy from 5 s (p95)', async () => {
    const { clock, safeguards } = setup();
    await runTaking(safeguards, clock, 40, 1999);
    const fast = await safeguards.health();
    expect(fast.components.latency.status).toBe('healthy');
    expect(fast.httpStatus).toBe(200);

    await runTaking(safeguards, clock, 40, 2000);
    const slow = await safeguards.health();
    expect(slow.components.latency).toMatchObject({
      status: 'degraded',
      message: expect.stringMatching(/^p95 2000 ms/),
    });
    expect(slow.httpStatus).toBe(206);
    expect(slow.alerts).toContainEqual(expect.objectContaining({ level: 'warning', component: 'latency' }));

    await runTaking(safeguards, clock, 40, 5000);
    const verySlow = await safeguards.health();
    expect(verySlow.components.latency.status).toBe('unhealthy');
    expect(verySlow.httpStatus).toBe(503);
    expect(verySlow.alerts).toContainEqual(
      expect.objectContaining({ level: 'critical', component: 'latency' }),
    );
    await safeguards.close();
  });

  it("grades the probe's response time by the same thresholds", async () => {
    const { clock, safeguards, setProbe } = setup();
    const probeTaking = async (ms: number) => {
      setProbe(ms);
      const report = safeguards.health({ probe: true });
      await flushMicrotasks();
      await clock.advance(ms);
      return (await report).components.database;
    };
    expect(await probeTaking(1500)).toMatchObject({ status: 'healthy', responseTimeMs: 1500 });
    expect(await probeTaking(2500)).toMatchObject({ status: 'degraded', responseTimeMs: 2500 });
    expect(await probeTaking(5000)).toMatchObject({ status: 'unhealthy', responseTimeMs: 5000 });
    await safeguards.close();
  });
});
