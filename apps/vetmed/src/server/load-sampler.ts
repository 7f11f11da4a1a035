import type { LoadStats, Safeguards } from '@db-safeguards/core';
import type { DashboardRefusal, DashboardSample } from './dashboard-types.js';

/** Options of {@link createLoadSampler}. */
export interface LoadSamplerOptions {
  /** How many one-second samples are kept. Default 300 (5 minutes). */
  keepSeconds?: number;
  /** The app role's backends as the last health probe counted them, if it counts them. */
  backends?: () => { count: number; countedAt: number } | undefined;
}

/** The process's load over the last minutes, for the operator dashboard. */
export interface LoadSampler {
  /** Samples newer than `since` (epoch ms), oldest first; all kept ones without it. */
  history(since?: number): DashboardSample[];
  /** Calls refused before they ran since the sampler started, by type and reason, most first. */
  refusals(): DashboardRefusal[];
  /** Stops the timer. */
  stop(): void;
}

/** Reasons are a closed list in practice (rate-limit policies, breaker states); past this, `other`. */
const maxRefusalKinds = 64;

/** What the dashboard shows of the event loop: the load monitor's latest readings, rounded. */
export interface EventLoopReadings {
  /** Event-loop delay (the load monitor's time-weighted p99), in ms; null while not monitored. */
  delayMs: number | null;
  /** Share of the time the loop was busy, 0 to 1; null while not monitored. */
  utilization: number | null;
  /** When the load monitor took them (epoch ms); null before its first reading. */
  sampledAt: number | null;
}

/**
 * The event loop as the load monitor last read it (`safeguards.metrics().load`): the figures load
 * shedding decides on and the health report shows, so the dashboard never disagrees with either.
 * Without load monitoring (LOAD_SHEDDING off) there are none.
 */
export function eventLoopReadings(load: LoadStats): EventLoopReadings {
  const { eventLoopDelayMs, eventLoopUtilization } = load.sample;
  return {
    delayMs:
      load.monitoring && eventLoopDelayMs !== undefined ? Math.round(eventLoopDelayMs * 100) / 100 : null,
    utilization:
      load.monitoring && eventLoopUtilization !== undefined
        ? Math.round(eventLoopUtilization * 1000) / 1000
        : null,
    sampledAt: load.monitoring ? (load.sampledAt ?? null) : null,
  };
}

/**
 * Samples the safeguards' live readouts once a second: the most slots held and waiters during the
 * second (the queue's `takePeaks`, so a burst between two readings still shows), the operations done,
 * the refusals, the wait p99 and the event loop's delay and utilisation as the load monitor read them
 * (see {@link eventLoopReadings}). It reads the process's own counters only: no database query,
 * no connection, whoever watches the dashboard and however often. Its timer is unref'd: it never
 * keeps the process alive. It is the queue's one `takePeaks` reader.
 */
export function createLoadSampler(safeguards: Safeguards, options: LoadSamplerOptions = {}): LoadSampler {
  const keep = options.keepSeconds ?? 300;
  const samples: DashboardSample[] = [];
  const refusalCounts = new Map<string, DashboardRefusal>();
  let refusedThisSecond = 0;
  let rateLimitedThisSecond = 0;
  const subscription = safeguards.onRejection(({ error }) => {
    refusedThisSecond++;
    if (error.type === 'RATE_LIMIT') rateLimitedThisSecond++;
    let key = `${error.type}/${error.reason}`;
    if (!refusalCounts.has(key) && refusalCounts.size >= maxRefusalKinds) key = `${error.type}/other`;
    const entry = refusalCounts.get(key);
    if (entry) entry.count++;
    else
      refusalCounts.set(key, {
        type: error.type,
        reason: key.slice(error.type.length + 1),
        count: 1,
      });
  });

  const queue = safeguards.queue;
  queue.takePeaks();
  const initial = queue.stats();
  let timedOutBefore = initial.timedOut;
  let releasedBefore = initial.processed + initial.failed;

  const tick = () => {
    const peaks = queue.takePeaks();
    const stats = queue.stats();
    // Waiters that waited and gave up are refused too, later than the refusals counted above.
    const timedOut = stats.timedOut - timedOutBefore;
    timedOutBefore = stats.timedOut;
    const released = stats.processed + stats.failed;
    const operations = released - releasedBefore;
    releasedBefore = released;
    // Reading the load stats takes a new reading when one is due, as a health check does.
    const loop = eventLoopReadings(safeguards.metrics().load);
    const effectiveLimit = effectiveLimitOf(stats);
    const backends = options.backends?.();
    samples.push({
      at: Date.now(),
      active: peaks.active,
      queued: peaks.queued,
      ...(effectiveLimit === undefined ? {} : { effectiveLimit }),
      operations,
      refused: refusedThisSecond + timedOut,
      rateLimited: rateLimitedThisSecond,
      waitP99Ms: Math.round(stats.waitMs.p99 * 10) / 10,
      eventLoopDelayMs: loop.delayMs,
      eventLoopUtilization: loop.utilization,
      ...(backends === undefined ? {} : { backends: backends.count }),
    });
    if (samples.length > keep) samples.splice(0, samples.length - keep);
    refusedThisSecond = 0;
    rateLimitedThisSecond = 0;
  };
  const timer = setInterval(tick, 1000);
  timer.unref();

  return {
    history(since) {
      if (since === undefined) return samples.slice();
      // Samples are in time order: find the first newer than `since` from the end (usually 1–2 back).
      let first = samples.length;
      while (first > 0 && samples[first - 1]!.at > since) first--;
      return samples.slice(first);
    },
    refusals: () => [...refusalCounts.values()].sort((a, b) => b.count - a.count),
    stop() {
      clearInterval(timer);
      subscription.dispose();
    },
  };
}

/**
 * The budget's effective limit when the core reports one (an adaptive budget lowers it after "too
 * many connections" and raises it back), read without depending on a field older cores lack.
 */
export function effectiveLimitOf(stats: object): number | undefined {
  const value = (stats as { effectiveLimit?: unknown }).effectiveLimit;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
