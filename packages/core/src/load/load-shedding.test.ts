import { describe, expect, it } from 'vitest';
import { isSafeguardError, type SafeguardError } from '../errors/safeguard-error.js';
import { Priority, priorities, priorityName } from '../priority.js';
import { createSafeguards } from '../safeguards.js';
import { flushMicrotasks, ManualClock } from '../testing/manual-clock.js';
import type { LoadOptions } from './load-options.js';
import type { LoadSample, LoadSampler } from './load-sampler.js';

/** A sampler whose readings the test sets; counts how often it is read. */
class SetReadings implements LoadSampler {
  current: LoadSample = { eventLoopDelayMs: 0, eventLoopUtilization: 0.2 };
  reads = 0;
  purposes: Array<string | undefined> = [];
  closed = false;
  sample(purpose?: string): LoadSample {
    this.reads++;
    this.purposes.push(purpose);
    return { ...this.current };
  }
  close(): void {
    this.closed = true;
  }
}

const sleep = (clock: ManualClock, ms: number) =>
  new Promise<void>((resolve) => clock.setTimeout(resolve, ms));

async function outcome<T>(promise: Promise<T>): Promise<T | SafeguardError> {
  try {
    return await promise;
  } catch (error) {
    if (isSafeguardError(error)) return error;
    throw error;
  }
}

function setup(load: Partial<LoadOptions> = {}, extra: Parameters<typeof createSafeguards>[0] = {}) {
  const clock = new ManualClock();
  const sampler = new SetReadings();
  const safeguards = createSafeguards({ clock, ...extra, load: { sampler, ...load } });
  const interval = load.sampleIntervalMs ?? 500;
  /**
   * Sets the readings and lets them be read as often as a mark needs them to be (twice by default):
   * the next call sees them as sustained.
   */
  const readings = async (sample: LoadSample) => {
    sampler.current = sample;
    for (let i = 1; i < (load.sustainedReadings ?? 2); i++) {
      await clock.advance(interval);
      safeguards.metrics();
    }
    await clock.advance(interval);
  };
  const call = (priority: Priority) =>
    outcome(safeguards.run(async () => 'ran', { operationType: 'read', priority }));
  /** Which priorities a new call is refused for right now, highest first. */
  const refusedNow = async () => {
    const refused: string[] = [];
    for (const priority of priorities)
      if ((await call(priority)) !== 'ran') refused.push(priorityName(priority));
    return refused;
  };
  return { clock, sampler, safeguards, readings, call, refusedNow };
}

describe('load shedding by priority (event-loop lag and memory as admission inputs)', () => {
  it('sheds BATCH and LOW first, NORMAL next, HIGH only past its own mark, and CRITICAL never', async () => {
    const { readings, refusedNow, safeguards } = setup();
    expect(await refusedNow()).toEqual([]);
    await readings({ eventLoopDelayMs: 60 });
    expect(await refusedNow()).toEqual(['LOW', 'BATCH']);
    await readings({ eventLoopDelayMs: 250 });
    expect(await refusedNow()).toEqual(['NORMAL', 'LOW', 'BATCH']);
    await readings({ eventLoopDelayMs: 5000 });
    expect(await refusedNow()).toEqual(['HIGH', 'NORMAL', 'LOW', 'BATCH']);
    await readings({ eventLoopDelayMs: 3 });
    expect(await refusedNow()).toEqual([]);
    expect(safeguards.metrics().load.shedByPriority).toEqual({
      CRITICAL: 0,
      HIGH: 1,
      NORMAL: 2,
      LOW: 3,
      BATCH: 3,
    });
    await safeguards.close();
  });

  it('the refusal is typed, retryable with a Retry-After, user-friendly, and names the reading and its mark', async () => {
    const { readings, call, safeguards } = setup();
    await readings({ eventLoopDelayMs: 230 });
    const normal = await call(Priority.NORMAL);
    expect(normal).toMatchObject({
      type: 'QUEUE_FULL',
      reason: 'overloaded',
      retryable: true,
      notApplied: true,
      retryAfterMs: 1000,
      httpStatus: 503,
      userMessage: "We're handling a lot of requests right now.",
      suggestedActions: ['Try again in 1 second.'],
      internalMessage: 'overloaded: NORMAL refused (event-loop delay p99 230 ms >= 200 ms)',
    });
    // Background work is shed first and resumes last: it is told to come back later.
    expect(await call(Priority.BATCH)).toMatchObject({ reason: 'overloaded', retryAfterMs: 5000 });
    await safeguards.close();
  });

  it('memory marks shed the same way, and the first signal past the highest mark is named', async () => {
    const mb = 1024 * 1024;
    const { readings, call, refusedNow, safeguards } = setup({
      heapUsedBytes: { LOW: 400 * mb, NORMAL: 600 * mb },
      rssBytes: { LOW: 700 * mb, NORMAL: 800 * mb, HIGH: 1024 * mb },
    });
    await readings({ heapUsedBytes: 500 * mb, rssBytes: 200 * mb });
    expect(await refusedNow()).toEqual(['LOW', 'BATCH']);
    await readings({ heapUsedBytes: 500 * mb, rssBytes: 1100 * mb });
    expect(await refusedNow()).toEqual(['HIGH', 'NORMAL', 'LOW', 'BATCH']);
    expect(await call(Priority.HIGH)).toMatchObject({
      internalMessage: 'overloaded: HIGH refused (RSS 1100 MB >= 1024 MB)',
    });
    await safeguards.close();
  });

  it('one stall sheds nothing: a mark must be passed by two readings in a row, and shedding stops at the first below', async () => {
    const { clock, sampler, safeguards, refusedNow, readings } = setup();
    await readings({ eventLoopDelayMs: 3 });
    // One reading of a 900 ms stall (a GC pause, the machine taking the CPU away): nothing is shed.
    sampler.current = { eventLoopDelayMs: 900 };
    await clock.advance(500);
    expect(await refusedNow()).toEqual([]);
    // The next reading is past the NORMAL mark too: both are, so NORMAL and below are shed, at the lower one.
    sampler.current = { eventLoopDelayMs: 400 };
    await clock.advance(500);
    expect(await refusedNow()).toEqual(['NORMAL', 'LOW', 'BATCH']);
    expect(safeguards.metrics().load.cause?.message).toBe('event-loop delay p99 400 ms >= 200 ms');
    // One reading below the marks, and shedding stops.
    sampler.current = { eventLoopDelayMs: 10 };
    await clock.advance(500);
    expect(await refusedNow()).toEqual([]);
    await safeguards.close();
  });

  it('with sustainedReadings 1, a single reading sheds', async () => {
    const { clock, sampler, safeguards, refusedNow } = setup({ sustainedReadings: 1 });
    sampler.current = { eventLoopDelayMs: 900 };
    await clock.advance(500);
    expect(await refusedNow()).toEqual(['NORMAL', 'LOW', 'BATCH']);
    await safeguards.close();
  });

  it('event-loop utilisation marks shed only BATCH and LOW by default', async () => {
    const { readings, refusedNow, safeguards } = setup({ utilizationTarget: false });
    await readings({ eventLoopUtilization: 0.99, eventLoopDelayMs: 5 });
    expect(await refusedNow()).toEqual(['LOW', 'BATCH']);
    await safeguards.close();
  });

  it('reads the sampler at most once per interval, only when asked, and closes it with the safeguards', async () => {
    const { clock, sampler, safeguards, call } = setup({ sampleIntervalMs: 1000 });
    expect(sampler.reads).toBe(0);
    for (let i = 0; i < 50; i++) await call(Priority.NORMAL);
    // Within the first interval nothing is read: the window starts when the safeguards do.
    expect(sampler.reads).toBe(0);
    await clock.advance(1000);
    for (let i = 0; i < 50; i++) await call(Priority.NORMAL);
    expect(sampler.reads).toBe(1);
    // An idle process reads nothing, however long it idles.
    await clock.advance(60_000);
    expect(sampler.reads).toBe(1);
    await safeguards.close();
    expect(sampler.closed).toBe(true);
  });

  it("tells the sampler why it reads: 'admission' for a call, 'report' for metrics and health", async () => {
    const { clock, sampler, safeguards, call } = setup({ sampleIntervalMs: 1000 });
    await clock.advance(1000);
    await call(Priority.NORMAL);
    await clock.advance(1000);
    safeguards.metrics();
    await clock.advance(1000);
    await safeguards.health();
    expect(sampler.purposes).toEqual(['admission', 'report', 'report']);
    // A call checked since the last reading makes a report's reading one for admission: frequent
    // health checks do not hide that calls keep coming.
    await call(Priority.NORMAL);
    await clock.advance(1000);
    safeguards.metrics();
    expect(sampler.purposes.slice(3)).toEqual(['admission']);
    await safeguards.close();
  });

  it('a sampler that throws sheds nothing', async () => {
    const clock = new ManualClock();
    const safeguards = createSafeguards({
      clock,
      load: {
        sampler: {
          sample() {
            throw new Error('no readings here');
          },
        },
      },
    });
    await clock.advance(500);
    await expect(safeguards.run(async () => 'ran', { priority: Priority.BATCH })).resolves.toBe('ran');
    expect(safeguards.metrics().load).toMatchObject({ monitoring: true, shedding: [], sample: {} });
    await safeguards.close();
  });

  it('a request already started goes on: only its first operation can be shed', async () => {
    const { readings, safeguards } = setup();
    const results = await safeguards.withContext({ priority: Priority.LOW }, async () => {
      const first = await outcome(safeguards.run(async () => 'first', { operationType: 'read' }));
      await readings({ eventLoopDelayMs: 300 });
      const second = await outcome(safeguards.run(async () => 'second', { operationType: 'read' }));
      return [first, second];
    });
    expect(results).toEqual(['first', 'second']);
    // A new LOW request is refused.
    const fresh = await safeguards.withContext({ priority: Priority.LOW }, () =>
      outcome(safeguards.run(async () => 'fresh', { operationType: 'read' })),
    );
    expect(fresh).toMatchObject({ reason: 'overloaded' });
    await safeguards.close();
  });

  it('admit() refuses for load too, before any rate-limit token is spent', async () => {
    const { readings, safeguards } = setup(
      {},
      { rateLimits: { policies: { tight: { limit: 1, windowMs: 60_000 } }, adaptive: false } },
    );
    await readings({ eventLoopDelayMs: 300 });
    await expect(
      safeguards.admit({ policy: 'tight', userId: 'u', priority: Priority.NORMAL }),
    ).rejects.toMatchObject({ reason: 'overloaded' });
    await readings({ eventLoopDelayMs: 1 });
    // The one token of the window is still there.
    await expect(
      safeguards.admit({ policy: 'tight', userId: 'u', priority: Priority.NORMAL }),
    ).resolves.toMatchObject({ rateLimit: { remaining: 0 } });
    await safeguards.close();
  });

  it('shedding is load, not failure: no breaker opens, the error rate stays 0, limits stay put, health is degraded and never unhealthy', async () => {
    const { readings, call, safeguards } = setup(
      { sampleIntervalMs: 100 },
      {
        breakers: { primary: { failureThreshold: 2 } },
        rateLimits: { policies: { api: { limit: 1000, windowMs: 60_000 } } },
      },
    );
    for (let i = 0; i < 30; i++) await call(Priority.NORMAL);
    await readings({ eventLoopDelayMs: 5000, heapUsedBytes: 1 });
    const refusals = await Promise.all(Array.from({ length: 200 }, () => call(Priority.HIGH)));
    expect(refusals.every((result) => isSafeguardError(result) && result.reason === 'overloaded')).toBe(true);
    const limited = await outcome(
      safeguards.run(async () => 'ran', { priority: Priority.CRITICAL, policy: 'api', userId: 'x' }),
    );
    expect(limited).toBe('ran');

    const metrics = safeguards.metrics();
    expect(metrics.breakers.primary!.state).toBe('CLOSED');
    expect(metrics.operations.windowFailed).toBe(0);
    expect(metrics.operations.rejected).toBe(200);
    expect(safeguards.loadReading().errorRate).toBe(0);
    expect(metrics.rateLimits.multiplier).toBe(1);
    const health = await safeguards.health();
    expect(health.status).toBe('degraded');
    expect(health.httpStatus).toBe(206);
    expect(health.components.errors.status).toBe('healthy');
    expect(health.components.load).toEqual({
      status: 'degraded',
      message: 'shedding new HIGH, NORMAL, LOW, BATCH calls: event-loop delay p99 5000 ms >= 1000 ms',
    });
    expect(health.alerts).toEqual([
      {
        level: 'warning',
        component: 'load',
        message: 'shedding new HIGH, NORMAL, LOW, BATCH calls: event-loop delay p99 5000 ms >= 1000 ms',
      },
    ]);
    await readings({ eventLoopDelayMs: 4 });
    const calm = await safeguards.health();
    expect(calm.status).toBe('healthy');
    expect(calm.components.load.message).toBe('event-loop delay p99 4 ms');
    await safeguards.close();
  });

  it('a deadline that passes while the process sheds load opens no breaker; the same timeouts otherwise do', async () => {
    const timeouts = async (shedding: boolean) => {
      const { clock, readings, safeguards } = setup({}, { breakers: { primary: { failureThreshold: 2 } } });
      await readings({ eventLoopDelayMs: shedding ? 300 : 1 });
      // HIGH work is still admitted at 300 ms; each call runs its whole 2 s and then times out.
      const calls = [0, 1, 2].map(() =>
        outcome(
          safeguards.run(() => sleep(clock, 10_000), {
            operationType: 'write',
            priority: Priority.HIGH,
            timeoutMs: 2000,
          }),
        ),
      );
      await clock.advance(2000);
      const results = await Promise.all(calls);
      expect(results.every((result) => isSafeguardError(result) && result.type === 'TIMEOUT')).toBe(true);
      const state = safeguards.metrics().breakers.primary!.state;
      await clock.advance(20_000);
      await safeguards.close();
      return state;
    };
    expect(await timeouts(true)).toBe('CLOSED');
    expect(await timeouts(false)).toBe('OPEN');
  });

  it('every refusal is reported once through onRejection, at the load stage', async () => {
    const { readings, call, safeguards } = setup();
    const stages: string[] = [];
    safeguards.onRejection((event) => stages.push(`${event.stage}:${priorityName(event.priority)}`));
    await readings({ eventLoopDelayMs: 100 });
    await call(Priority.LOW);
    await call(Priority.NORMAL);
    await flushMicrotasks();
    expect(stages).toEqual(['load:LOW']);
    await safeguards.close();
  });

  it('without a sampler nothing is measured, nothing is shed and health says so', async () => {
    const safeguards = createSafeguards();
    expect(safeguards.metrics().load).toEqual({
      monitoring: false,
      shedding: [],
      cause: undefined,
      normalShare: 1,
      sample: {},
      sampledAt: undefined,
      shed: 0,
      shedByPriority: { CRITICAL: 0, HIGH: 0, NORMAL: 0, LOW: 0, BATCH: 0 },
    });
    expect((await safeguards.health()).components.load).toEqual({
      status: 'healthy',
      message: 'not monitored (no load sampler)',
    });
    await safeguards.close();
  });
});

describe('event-loop utilisation target: a share of NORMAL held back while the loop is too busy', () => {
  /** Of `count` NORMAL calls now, how many ran. */
  async function normalsRun(call: (priority: Priority) => Promise<unknown>, count: number) {
    let ran = 0;
    for (let i = 0; i < count; i++) if ((await call(Priority.NORMAL)) === 'ran') ran++;
    return ran;
  }

  it('admits a falling share of NORMAL while the loop stays past the target, none of LOW and BATCH, all of HIGH and CRITICAL', async () => {
    const { clock, sampler, safeguards, call } = setup({ sampleIntervalMs: 100 });
    sampler.current = { eventLoopUtilization: 1 };
    // A burst shorter than 300 ms (here two readings of 100 ms) is served in full.
    for (let i = 0; i < 2; i++) {
      await clock.advance(100);
      expect(await normalsRun(call, 100)).toBe(100);
    }
    // From the third reading in a row, a fully busy loop halves the share at each reading.
    await clock.advance(100);
    expect(await normalsRun(call, 100)).toBe(50);
    expect(safeguards.metrics().load).toMatchObject({
      normalShare: 0.5,
      shedding: ['NORMAL', 'LOW', 'BATCH'],
    });
    for (const priority of [Priority.LOW, Priority.BATCH])
      expect(await call(priority)).toMatchObject({
        type: 'QUEUE_FULL',
        reason: 'overloaded',
        retryable: true,
      });
    for (const priority of [Priority.HIGH, Priority.CRITICAL]) expect(await call(priority)).toBe('ran');
    await clock.advance(100);
    expect(await normalsRun(call, 100)).toBe(25);
    const refused = (await call(Priority.NORMAL)) as SafeguardError;
    const refusedAgain = (await call(Priority.NORMAL)) as SafeguardError;
    expect([refused, refusedAgain].find((error) => error !== ('ran' as unknown))).toMatchObject({
      internalMessage:
        'overloaded: NORMAL refused (event-loop utilisation 100% past 90%: 25% of NORMAL calls admitted)',
    });
    const health = await safeguards.health();
    expect(health.status).toBe('degraded');
    // Never below 5 %: some NORMAL work always goes on.
    for (let i = 0; i < 10; i++) {
      await clock.advance(100);
      safeguards.metrics();
    }
    expect(safeguards.metrics().load.normalShare).toBe(0.05);
    // Between the target and 0.05 below it the share holds; below that it grows towards the share
    // that would fill the loop to the target (at most half again), by at least 0.1 a reading.
    sampler.current = { eventLoopUtilization: 0.86 };
    await clock.advance(100);
    expect(safeguards.metrics().load.normalShare).toBe(0.05);
    sampler.current = { eventLoopUtilization: 0.5 };
    const shares = [];
    for (let i = 0; i < 4; i++) {
      await clock.advance(100);
      shares.push(safeguards.metrics().load.normalShare);
    }
    // 0.05 + 0.1, + 0.1, then × 1.5 (0.9 / 0.5 = 1.8 capped) each reading.
    expect(shares.map((share) => Math.round(share * 1000) / 1000)).toEqual([0.15, 0.25, 0.375, 0.563]);
    await clock.advance(100);
    expect(safeguards.metrics().load.normalShare).toBeCloseTo(0.844, 3);
    await clock.advance(100);
    expect(safeguards.metrics().load).toMatchObject({ normalShare: 1, shedding: [] });
    expect(await normalsRun(call, 20)).toBe(20);
    expect((await safeguards.health()).status).not.toBe('degraded');
    // Held-back calls are refusals, not failures.
    expect(safeguards.metrics().operations.windowFailed).toBe(0);
    await safeguards.close();
  });

  it('counts a call once: a call already admitted, and the operations of an admitted request, pass the share (not the marks)', async () => {
    const { clock, sampler, safeguards, call } = setup({ sampleIntervalMs: 100 });
    sampler.current = { eventLoopUtilization: 1, eventLoopDelayMs: 30 };
    for (let i = 0; i < 3; i++) {
      await clock.advance(100);
      safeguards.metrics();
    }
    expect(safeguards.metrics().load.normalShare).toBe(0.5);
    const admittedRun = () =>
      outcome(
        safeguards.withContext({ priority: Priority.NORMAL, admitted: true }, () =>
          safeguards.run(async () => 'ran', { operationType: 'read' }),
        ),
      );
    for (let i = 0; i < 6; i++) expect(await admittedRun()).toBe('ran');
    // A request whose first operation was let through: its later operations go on as continuations.
    const request = await outcome(
      safeguards.withContext({ priority: Priority.NORMAL }, async () => {
        let first = await outcome(safeguards.run(async () => 'ran', { operationType: 'read' }));
        // Refused ones leave the share's credit for the next: try until one gets through.
        while (first !== 'ran')
          first = await outcome(safeguards.run(async () => 'ran', { operationType: 'read' }));
        return Promise.all([1, 2, 3].map(() => safeguards.run(async () => 'ran', { operationType: 'read' })));
      }),
    );
    expect(request).toEqual(['ran', 'ran', 'ran']);
    // Calls not admitted before are counted: half of them go through.
    let ran = 0;
    for (let i = 0; i < 10; i++) if ((await call(Priority.NORMAL)) === 'ran') ran++;
    expect(ran).toBe(5);
    // The marks still apply to an admitted call: the load may have changed since.
    sampler.current = { eventLoopUtilization: 1, eventLoopDelayMs: 500 };
    for (let i = 0; i < 2; i++) {
      await clock.advance(100);
      safeguards.metrics();
    }
    expect(await admittedRun()).toMatchObject({ reason: 'overloaded' });
    await safeguards.close();
  });

  it('a loop busy but turning quickly is not past the target for NORMAL, only for LOW and BATCH; its share falls with long turns and grows back', async () => {
    // No utilisation marks: what is seen is the target's own doing.
    const { clock, sampler, safeguards, call } = setup({
      sampleIntervalMs: 100,
      eventLoopUtilization: false,
    });
    // Fully busy, but every turn within 10 ms (load.utilizationDelayMs): new requests are read promptly,
    // so NORMAL goes on in full; background work waits from the third busy reading on.
    sampler.current = { eventLoopUtilization: 1, eventLoopDelayMs: 8 };
    for (let i = 0; i < 5; i++) {
      await clock.advance(100);
      expect(await normalsRun(call, 20)).toBe(20);
      const low = await call(Priority.LOW);
      if (i < 2) expect(low).toBe('ran');
      else expect(low).toMatchObject({ reason: 'overloaded' });
    }
    expect(safeguards.metrics().load).toMatchObject({ normalShare: 1, shedding: ['LOW', 'BATCH'] });
    expect(((await call(Priority.BATCH)) as SafeguardError).internalMessage).toBe(
      'overloaded: BATCH refused (event-loop utilisation 100% past 90%: LOW and BATCH calls held back)',
    );
    expect((await safeguards.health()).status).toBe('degraded');
    // Turns grow long: from the third such reading the share falls.
    sampler.current = { eventLoopUtilization: 1, eventLoopDelayMs: 40 };
    for (let i = 0; i < 4; i++) {
      await clock.advance(100);
      safeguards.metrics();
    }
    expect(safeguards.metrics().load.normalShare).toBe(0.25);
    // Still fully busy, turns between half the limit and the limit: the share holds.
    sampler.current = { eventLoopUtilization: 1, eventLoopDelayMs: 8 };
    await clock.advance(100);
    expect(safeguards.metrics().load.normalShare).toBe(0.25);
    // Turns within half the limit: room, though the loop is busy; the share grows by 0.1 a reading.
    sampler.current = { eventLoopUtilization: 1, eventLoopDelayMs: 3 };
    await clock.advance(100);
    expect(safeguards.metrics().load.normalShare).toBeCloseTo(0.35, 5);
    // Background work comes back once the loop is below the target by the recovery gap.
    sampler.current = { eventLoopUtilization: 0.3, eventLoopDelayMs: 1 };
    for (let i = 0; i < 8; i++) {
      await clock.advance(100);
      safeguards.metrics();
    }
    expect(safeguards.metrics().load).toMatchObject({ normalShare: 1, shedding: [] });
    expect(await call(Priority.LOW)).toBe('ran');
    await safeguards.close();
  });

  it('with utilizationDelayMs 0, utilisation alone decides (turns of any length count)', async () => {
    const { clock, sampler, safeguards } = setup({ sampleIntervalMs: 100, utilizationDelayMs: 0 });
    sampler.current = { eventLoopUtilization: 1, eventLoopDelayMs: 0 };
    for (let i = 0; i < 3; i++) {
      await clock.advance(100);
      safeguards.metrics();
    }
    expect(safeguards.metrics().load.normalShare).toBe(0.5);
    expect(() => createSafeguards({ load: { utilizationDelayMs: -1 } })).toThrow(/load.utilizationDelayMs/);
    await safeguards.close();
  });

  it('is off with utilizationTarget false, and refuses a target out of range', async () => {
    const { clock, sampler, safeguards, call } = setup({ sampleIntervalMs: 100, utilizationTarget: false });
    sampler.current = { eventLoopUtilization: 1 };
    for (let i = 0; i < 5; i++) {
      await clock.advance(100);
      safeguards.metrics();
    }
    expect(await normalsRun(call, 20)).toBe(20);
    expect(safeguards.metrics().load.normalShare).toBe(1);
    await safeguards.close();
    expect(() => createSafeguards({ load: { utilizationTarget: 1.5 } })).toThrow(/load.utilizationTarget/);
  });
});

describe('load options', () => {
  const create = (load: unknown) => () =>
    createSafeguards({ load: { sampler: { sample: () => ({}) }, ...(load as object) } });

  it('marks given for a signal replace its defaults; a priority without a mark takes the next one above', async () => {
    const { readings, refusedNow, safeguards } = setup({ eventLoopDelayMs: { HIGH: 400 } });
    await readings({ eventLoopDelayMs: 300 });
    expect(await refusedNow()).toEqual([]);
    await readings({ eventLoopDelayMs: 400 });
    expect(await refusedNow()).toEqual(['HIGH', 'NORMAL', 'LOW', 'BATCH']);
    await safeguards.close();
  });

  it('false ignores a signal', async () => {
    const { readings, refusedNow, safeguards } = setup({ eventLoopDelayMs: false });
    await readings({ eventLoopDelayMs: 100_000 });
    expect(await refusedNow()).toEqual([]);
    await safeguards.close();
  });

  it('refuses bad marks with a TypeError naming the option and the value', () => {
    expect(create({ eventLoopDelayMs: { CRITICAL: 10 } })).toThrow(
      'Expected load.eventLoopDelayMs.CRITICAL to be absent: marks are for BATCH, LOW, NORMAL or HIGH (CRITICAL is never shed), got 10 (number)',
    );
    expect(create({ eventLoopDelayMs: { LOW: 300, NORMAL: 200 } })).toThrow(
      'Expected load.eventLoopDelayMs.NORMAL to be at least load.eventLoopDelayMs.LOW (300): a higher priority is shed last, got 200 (number)',
    );
    expect(create({ eventLoopUtilization: { LOW: 1.5 } })).toThrow(
      /^Expected load\.eventLoopUtilization\.LOW to be a number between .* and 1, got 1\.5 \(number\)$/,
    );
    expect(create({ rssBytes: { LOW: -1 } })).toThrow(/load\.rssBytes\.LOW/);
    expect(create({ heapUsedBytes: 5 })).toThrow(
      'Expected load.heapUsedBytes to be marks by priority, or false, got 5 (number)',
    );
    expect(create({ sampleIntervalMs: 0 })).toThrow(
      'Expected load.sampleIntervalMs to be an integer >= 1, got 0 (number)',
    );
    expect(create({ sustainedReadings: 0 })).toThrow(
      'Expected load.sustainedReadings to be an integer between 1 and 100, got 0 (number)',
    );
    expect(() => createSafeguards({ load: { sampler: {} as LoadSampler } })).toThrow(/load\.sampler/);
  });
});
