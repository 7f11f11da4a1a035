import { describe, expect, it } from 'vitest';
import { isSafeguardError, type SafeguardError } from '../errors/safeguard-error.js';
import { Priority } from '../priority.js';
import { ManualClock } from '../testing/manual-clock.js';
import { ConnectionQueue, type Lease } from './connection-queue.js';

function setup(options: ConstructorParameters<typeof ConnectionQueue>[0] = {}) {
  const clock = new ManualClock();
  const queue = new ConnectionQueue({ starvationAfterMs: 0, ...options }, clock);
  return { clock, queue };
}

/** Records the order in which acquisitions are granted. */
function track(queue: ConnectionQueue, priority: Priority, name: string, order: string[], options = {}) {
  const promise = queue.acquire(priority, options).then((lease) => {
    order.push(name);
    return lease;
  });
  promise.catch(() => undefined);
  return promise;
}

describe('ConnectionQueue', () => {
  it('defaults to the source design: 8 slots, 200 waiters, 30 s wait, 1 reserved slot', () => {
    const queue = new ConnectionQueue();
    expect(queue.options).toMatchObject({
      maxConcurrentConnections: 8,
      maxQueueSize: 200,
      timeoutMs: 30_000,
      reservedForCritical: 1,
    });
  });

  it('never grants more than the budget, whatever the mix of priorities', async () => {
    const { queue } = setup({ maxConcurrentConnections: 3, reservedForCritical: 1 });
    const leases: Lease[] = [];
    const all = [
      Priority.BATCH,
      Priority.LOW,
      Priority.NORMAL,
      Priority.HIGH,
      Priority.CRITICAL,
      Priority.CRITICAL,
      Priority.HIGH,
    ].map((p) => queue.acquire(p).then((lease) => leases.push(lease)));
    await Promise.resolve();
    expect(queue.active).toBe(3);
    expect(queue.queued).toBe(4);
    while (leases.length > 0) {
      leases.shift()!.release();
      await Promise.resolve();
      expect(queue.active).toBeLessThanOrEqual(3);
    }
    await Promise.all(all);
    for (const lease of leases) lease.release();
    expect(queue.stats().peakActive).toBe(3);
  });

  it('keeps the reserved slot for CRITICAL work', async () => {
    const { queue } = setup({ maxConcurrentConnections: 2, reservedForCritical: 1 });
    const first = queue.tryAcquire(Priority.HIGH);
    expect(first).toBeDefined();
    expect(queue.tryAcquire(Priority.HIGH)).toBeUndefined();
    const critical = queue.tryAcquire(Priority.CRITICAL);
    expect(critical).toBeDefined();
    expect(queue.active).toBe(2);
  });

  it('serves higher priorities first and first-come within a priority', async () => {
    const { queue } = setup({ maxConcurrentConnections: 1, reservedForCritical: 0 });
    const holder = queue.tryAcquire(Priority.NORMAL)!;
    const order: string[] = [];
    // Each waiter releases its slot as soon as it gets it, so the next one is served.
    const waiters = (
      [
        [Priority.BATCH, 'batch-1'],
        [Priority.NORMAL, 'normal-1'],
        [Priority.HIGH, 'high-1'],
        [Priority.NORMAL, 'normal-2'],
        [Priority.HIGH, 'high-2'],
        [Priority.LOW, 'low-1'],
      ] as const
    ).map(([priority, name]) => track(queue, priority, name, order).then((lease) => lease.release()));
    holder.release();
    await Promise.all(waiters);
    expect(order).toEqual(['high-1', 'high-2', 'normal-1', 'normal-2', 'low-1', 'batch-1']);
  });

  it('displaces the newest lowest-priority waiter when full, and refuses when nobody is lower', async () => {
    const { queue } = setup({
      maxConcurrentConnections: 1,
      reservedForCritical: 0,
      maxQueueSize: 3,
      shedAt: { BATCH: 1, LOW: 1 },
    });
    queue.tryAcquire(Priority.NORMAL);
    const batchOld = queue.acquire(Priority.BATCH);
    const batchNew = queue.acquire(Priority.BATCH);
    const low = queue.acquire(Priority.LOW);
    const high = queue.acquire(Priority.HIGH);
    await expect(batchNew).rejects.toMatchObject({ type: 'QUEUE_FULL', reason: 'displaced' });
    expect(queue.queued).toBe(3);
    const batch2 = queue.acquire(Priority.BATCH);
    await expect(batch2).rejects.toMatchObject({ type: 'QUEUE_FULL', reason: 'queue-full' });
    expect(queue.stats().queuedByPriority).toMatchObject({ HIGH: 1, LOW: 1, BATCH: 1 });
    void batchOld.catch(() => undefined);
    void low.catch(() => undefined);
    void high.catch(() => undefined);
    expect(queue.stats().shed).toBe(2);
  });

  it('counts the slots held by each priority, abandoned ones given back', async () => {
    const { clock, queue } = setup({
      maxConcurrentConnections: 4,
      reservedForCritical: 1,
      abandonAfterMs: 100,
    });
    const high = queue.tryAcquire(Priority.HIGH)!;
    const batch = queue.tryAcquire(Priority.BATCH)!;
    const critical = queue.tryAcquire(Priority.CRITICAL)!;
    expect(queue.stats().activeByPriority).toEqual({ CRITICAL: 1, HIGH: 1, NORMAL: 0, LOW: 0, BATCH: 1 });
    high.release();
    queue.abandonLater(batch);
    await clock.advance(100);
    expect(queue.stats().activeByPriority).toEqual({ CRITICAL: 1, HIGH: 0, NORMAL: 0, LOW: 0, BATCH: 0 });
    critical.release('failure');
    expect(queue.stats()).toMatchObject({ active: 0, activeByPriority: { CRITICAL: 0 } });
  });

  it('tells the peaks since the last reading, bursts between readings included', async () => {
    const { queue } = setup({ maxConcurrentConnections: 3, reservedForCritical: 0 });
    expect(queue.takePeaks()).toEqual({ active: 0, queued: 0 });
    const leases = [
      queue.tryAcquire(Priority.HIGH)!,
      queue.tryAcquire(Priority.HIGH)!,
      queue.tryAcquire(Priority.LOW)!,
    ];
    const waiting = [queue.acquire(Priority.NORMAL), queue.acquire(Priority.NORMAL)];
    for (const lease of leases) lease.release();
    for (const lease of await Promise.all(waiting)) lease.release();
    // Everything is back: the burst shows in this reading only.
    expect(queue.takePeaks()).toEqual({ active: 3, queued: 2 });
    expect(queue.takePeaks()).toEqual({ active: 0, queued: 0 });
    const held = queue.tryAcquire(Priority.HIGH)!;
    expect(queue.takePeaks()).toEqual({ active: 1, queued: 0 });
    // A reading starts from what is held now.
    expect(queue.takePeaks()).toEqual({ active: 1, queued: 0 });
    held.release();
    expect(queue.stats().peakActive).toBe(3);
  });

  it('sheds low priorities early when the queue fills (load shedding)', async () => {
    const { queue } = setup({
      maxConcurrentConnections: 1,
      reservedForCritical: 0,
      maxQueueSize: 4,
      shedAt: { BATCH: 0.5 },
    });
    queue.tryAcquire(Priority.NORMAL);
    queue.acquire(Priority.NORMAL).catch(() => undefined);
    queue.acquire(Priority.NORMAL).catch(() => undefined);
    expect(queue.checkAdmission(Priority.BATCH)).toMatchObject({ type: 'QUEUE_FULL', reason: 'shed' });
    await expect(queue.acquire(Priority.BATCH)).rejects.toMatchObject({ reason: 'shed' });
    expect(queue.checkAdmission(Priority.NORMAL)).toBeUndefined();
  });

  it('serves continuations of started requests ahead of new requests of their priority, never ahead of a higher one', async () => {
    const { queue } = setup({ maxConcurrentConnections: 1, reservedForCritical: 0 });
    const blocker = queue.tryAcquire(Priority.NORMAL)!;
    const order: string[] = [];
    const waiting = [
      track(queue, Priority.NORMAL, 'normal-new-1', order),
      track(queue, Priority.LOW, 'low-continuation', order, { continuation: true }),
      track(queue, Priority.NORMAL, 'normal-continuation-1', order, { continuation: true }),
      track(queue, Priority.NORMAL, 'normal-new-2', order),
      track(queue, Priority.HIGH, 'high-new', order),
      track(queue, Priority.NORMAL, 'normal-continuation-2', order, { continuation: true }),
    ];
    // Each grant is released at once, which hands the slot to the next waiter.
    const finished = Promise.all(waiting.map((promise) => promise.then((lease) => lease.release())));
    blocker.release();
    await finished;
    expect(order).toEqual([
      'high-new',
      'normal-continuation-1',
      'normal-continuation-2',
      'normal-new-1',
      'normal-new-2',
      'low-continuation',
    ]);
    expect(queue.stats().queuedByPriority.NORMAL).toBe(0);
  });

  it('never sheds a continuation by queue fill, and displaces new requests of a priority before its continuations', async () => {
    const { queue } = setup({
      maxConcurrentConnections: 1,
      reservedForCritical: 0,
      maxQueueSize: 2,
      shedAt: { LOW: 0.5 },
    });
    queue.tryAcquire(Priority.NORMAL);
    const normalNew = queue.acquire(Priority.NORMAL);
    normalNew.catch(() => undefined);
    // Half full: a new LOW request is shed, a LOW continuation (its request already ran work) waits.
    expect(queue.checkAdmission(Priority.LOW)).toMatchObject({ type: 'QUEUE_FULL', reason: 'shed' });
    expect(queue.checkAdmission(Priority.LOW, true)).toBeUndefined();
    const lowContinuation = queue.acquire(Priority.LOW, { continuation: true });
    lowContinuation.catch(() => undefined);
    expect(queue.queued).toBe(2);
    // Full: a NORMAL continuation displaces the LOW one (a lower priority goes first), then the new NORMAL.
    const first = queue.acquire(Priority.NORMAL, { continuation: true });
    first.catch(() => undefined);
    await expect(lowContinuation).rejects.toMatchObject({ type: 'QUEUE_FULL', reason: 'displaced' });
    const second = queue.acquire(Priority.NORMAL, { continuation: true });
    second.catch(() => undefined);
    await expect(normalNew).rejects.toMatchObject({ type: 'QUEUE_FULL', reason: 'displaced' });
    // Only continuations of NORMAL are left: a third one has nobody below it to displace.
    await expect(queue.acquire(Priority.NORMAL, { continuation: true })).rejects.toMatchObject({
      reason: 'queue-full',
    });
    expect(queue.stats().queuedByPriority).toMatchObject({ NORMAL: 2, LOW: 0 });
  });

  it('refuses an already-aborted signal or a passed deadline even when a slot is free', async () => {
    const { queue, clock } = setup();
    await expect(queue.acquire(Priority.NORMAL, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      type: 'TIMEOUT',
      reason: 'aborted',
    });
    await expect(queue.acquire(Priority.NORMAL, { deadline: clock.now() })).rejects.toMatchObject({
      type: 'TIMEOUT',
      reason: 'deadline',
    });
    expect(queue.stats()).toMatchObject({ active: 0, peakActive: 0 });
  });

  it('rejects a NaN deadline, which would switch off the queue timeout of the waiter', async () => {
    const { queue } = setup({ maxConcurrentConnections: 1, reservedForCritical: 0 });
    const holder = queue.tryAcquire(Priority.NORMAL)!;
    await expect(queue.acquire(Priority.NORMAL, { deadline: Number.NaN })).rejects.toThrow(
      /options.deadline.*NaN/,
    );
    expect(queue.queued).toBe(0);
    holder.release();
  });

  it('removes a waiter at once when its signal aborts', async () => {
    const { queue } = setup({ maxConcurrentConnections: 1, reservedForCritical: 0 });
    queue.tryAcquire(Priority.NORMAL);
    const controller = new AbortController();
    const waiting = queue.acquire(Priority.NORMAL, { signal: controller.signal });
    expect(queue.queued).toBe(1);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ type: 'TIMEOUT', reason: 'aborted', notApplied: true });
    expect(queue.queued).toBe(0);
    expect(queue.stats().aborted).toBe(1);
  });

  it('times a waiter out at its deadline, or at the queue timeout, whichever comes first', async () => {
    const { queue, clock } = setup({ maxConcurrentConnections: 1, reservedForCritical: 0, timeoutMs: 1000 });
    queue.tryAcquire(Priority.NORMAL);
    const byDeadline = queue.acquire(Priority.NORMAL, { deadline: clock.now() + 300 });
    const byQueueTimeout = queue.acquire(Priority.NORMAL);
    byDeadline.catch(() => undefined);
    byQueueTimeout.catch(() => undefined);
    await clock.advance(299);
    expect(queue.queued).toBe(2);
    await clock.advance(1);
    await expect(byDeadline).rejects.toMatchObject({ type: 'TIMEOUT', reason: 'deadline' });
    expect(queue.queued).toBe(1);
    await clock.advance(700);
    await expect(byQueueTimeout).rejects.toMatchObject({ type: 'TIMEOUT', reason: 'queue-timeout' });
    expect(queue.stats().timedOut).toBe(2);
  });

  it('pauses and resumes by priority or entirely', async () => {
    const { queue } = setup({ maxConcurrentConnections: 2, reservedForCritical: 0 });
    queue.pause([Priority.BATCH]);
    expect(queue.tryAcquire(Priority.BATCH)).toBeUndefined();
    const batch = queue.acquire(Priority.BATCH);
    const normal = queue.tryAcquire(Priority.NORMAL);
    expect(normal).toBeDefined();
    expect(queue.queued).toBe(1);
    queue.resume([Priority.BATCH]);
    await expect(batch).resolves.toBeDefined();
    queue.pause();
    expect(queue.isPaused()).toBe(true);
    expect(queue.tryAcquire(Priority.CRITICAL)).toBeUndefined();
    queue.resume();
    expect(queue.isPaused()).toBe(false);
  });

  it('gives starving low-priority waiters a share of grants under sustained higher-priority load', async () => {
    const clock = new ManualClock();
    const queue = new ConnectionQueue(
      {
        maxConcurrentConnections: 1,
        reservedForCritical: 0,
        starvationAfterMs: 1000,
        starvationShare: 0.25,
        maxQueueSize: 1000,
        timeoutMs: 600_000,
      },
      clock,
    );
    const granted: string[] = [];
    const held: Lease[] = [queue.tryAcquire(Priority.HIGH)!];
    const request = (priority: Priority, name: string) =>
      queue.acquire(priority).then((lease) => {
        granted.push(name);
        held.push(lease);
      });
    void request(Priority.BATCH, 'batch');
    // Keep NORMAL waiters queued at all times: without relief the BATCH waiter would wait forever.
    // (With one ordinary slot relief never passes over a HIGH waiter: see urgent-vs-continuations.)
    for (let round = 0; round < 20 && !granted.includes('batch'); round++) {
      void request(Priority.NORMAL, `normal-${round}`);
      void request(Priority.NORMAL, `normal-${round}b`);
      await clock.advance(200);
      held.shift()!.release();
      await Promise.resolve();
    }
    expect(granted).toContain('batch');
    // Relief starts only once BATCH has waited starvationAfterMs, and NORMAL keeps most grants.
    const batchIndex = granted.indexOf('batch');
    expect(batchIndex).toBeGreaterThanOrEqual(3);
  });

  it('without starvation relief, strict priority can starve BATCH (the relief is what prevents it)', async () => {
    const { queue, clock } = setup({
      maxConcurrentConnections: 1,
      reservedForCritical: 0,
      starvationAfterMs: 0,
      maxQueueSize: 1000,
      timeoutMs: 600_000,
    });
    const held: Lease[] = [queue.tryAcquire(Priority.HIGH)!];
    let batchGranted = false;
    queue.acquire(Priority.BATCH).then(() => {
      batchGranted = true;
    });
    for (let round = 0; round < 20; round++) {
      void queue.acquire(Priority.HIGH).then((lease) => held.push(lease));
      await clock.advance(200);
      held.shift()!.release();
      await Promise.resolve();
    }
    expect(batchGranted).toBe(false);
  });

  it('reclaims the slot of an operation that never settles after its deadline (abandoned)', async () => {
    const { queue, clock } = setup({
      maxConcurrentConnections: 1,
      reservedForCritical: 0,
      abandonAfterMs: 500,
    });
    const lease = queue.tryAcquire(Priority.NORMAL)!;
    const waiting = queue.acquire(Priority.NORMAL);
    queue.abandonLater(lease);
    await clock.advance(499);
    expect(queue.active).toBe(1);
    await clock.advance(1);
    const next = await waiting;
    expect(queue.stats()).toMatchObject({ abandoned: 1, abandonedRunning: 1 });
    // The abandoned operation finally ends: it is no longer counted as running, the slot stays given.
    lease.release();
    expect(queue.stats()).toMatchObject({ abandoned: 1, abandonedRunning: 0, processed: 0 });
    lease.release();
    expect(queue.stats().abandonedRunning).toBe(0);
    expect(queue.active).toBe(1);
    next.release();
    expect(queue.active).toBe(0);
  });

  it('a neutral release frees the slot without counting it as processed or failed', () => {
    const { queue } = setup();
    queue.tryAcquire(Priority.NORMAL)!.release('neutral');
    expect(queue.stats()).toMatchObject({ active: 0, processed: 0, failed: 0 });
  });

  it('ignores a second release of the same lease', () => {
    const { queue } = setup();
    const lease = queue.tryAcquire(Priority.NORMAL)!;
    lease.release();
    lease.release('failure');
    expect(queue.active).toBe(0);
    expect(queue.stats()).toMatchObject({ processed: 1, failed: 0 });
  });

  it('reports wait percentiles, counters and per-priority queue lengths', async () => {
    const { queue, clock } = setup({ maxConcurrentConnections: 1, reservedForCritical: 0 });
    const first = queue.tryAcquire(Priority.NORMAL)!;
    const second = queue.acquire(Priority.LOW);
    await clock.advance(100);
    first.release('failure');
    (await second).release();
    const stats = queue.stats();
    expect(stats.waitMs.max).toBe(100);
    expect(stats.waitMsByPriority.LOW.p99).toBe(100);
    expect(stats).toMatchObject({ processed: 1, failed: 1, active: 0, queued: 0 });
  });

  it('counts the waits of waiters that timed out, aborted or were displaced in the percentiles', async () => {
    const { queue, clock } = setup({
      maxConcurrentConnections: 1,
      reservedForCritical: 0,
      maxQueueSize: 3,
      shedAt: { LOW: 1, BATCH: 1 },
      starvationAfterMs: 0,
    });
    const holder = queue.tryAcquire(Priority.NORMAL)!;
    const timingOut = queue.acquire(Priority.NORMAL, { deadline: clock.now() + 300 });
    const controller = new AbortController();
    const aborting = queue.acquire(Priority.LOW, { signal: controller.signal });
    const displaced = queue.acquire(Priority.BATCH);
    await clock.advance(100);
    controller.abort();
    await expect(aborting).rejects.toMatchObject({ reason: 'aborted' });
    const filler = queue.acquire(Priority.LOW);
    await clock.advance(100);
    const newcomer = queue.acquire(Priority.HIGH);
    await expect(displaced).rejects.toMatchObject({ reason: 'displaced' });
    await clock.advance(100);
    await expect(timingOut).rejects.toMatchObject({ reason: 'deadline' });
    const stats = queue.stats();
    // Holder 0 ms, aborted after 100, displaced after 200, timed out after 300: four waits, not one.
    expect(stats.waitMs).toMatchObject({ count: 4, max: 300 });
    expect(stats.waitMsByPriority.LOW).toMatchObject({ count: 1, max: 100 });
    expect(stats.waitMsByPriority.BATCH).toMatchObject({ count: 1, max: 200 });
    holder.release();
    (await newcomer).release();
    (await filler).release();
  });

  it('refuses waiters and arrivals once closed, and resolves onIdle when drained', async () => {
    const { queue } = setup({ maxConcurrentConnections: 1, reservedForCritical: 0 });
    const lease = queue.tryAcquire(Priority.NORMAL)!;
    const waiting = queue.acquire(Priority.NORMAL);
    const idle = queue.onIdle();
    queue.close();
    await expect(waiting).rejects.toMatchObject({ type: 'CONNECTION', reason: 'shutting-down' });
    await expect(queue.acquire(Priority.CRITICAL)).rejects.toSatisfy((error: SafeguardError) =>
      isSafeguardError(error),
    );
    lease.release();
    await expect(idle).resolves.toBeUndefined();
  });

  it('validates its options with messages naming the option', () => {
    expect(() => new ConnectionQueue({ maxConcurrentConnections: 0 })).toThrow(
      /queue.maxConcurrentConnections.*got 0/,
    );
    expect(() => new ConnectionQueue({ maxConcurrentConnections: 2, reservedForCritical: 2 })).toThrow(
      /queue.reservedForCritical/,
    );
    expect(() => new ConnectionQueue({ timeoutMs: -5 })).toThrow(/queue.timeoutMs.*-5/);
    expect(() => new ConnectionQueue({ shedAt: { SOMETIMES: 0.5 } as never })).toThrow(/SOMETIMES/);
  });
});
