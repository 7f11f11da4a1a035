import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Safeguards } from '@db-safeguards/core';
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
  /** The event loop's delay over the last full second. */
  eventLoop(): { p50Ms: number; p99Ms: number; maxMs: number };
  /** Calls refused before they ran since the sampler started, by type and reason, most first. */
  refusals(): DashboardRefusal[];
  /** Stops the timers and the event-loop monitor. */
  stop(): void;
}

/** Reasons are a closed list in practice (rate-limit policies, breaker states); past this, `other`. */
const maxRefusalKinds = 64;
/**
 * How often the event-loop monitor's timer fires, in ms. Each recorded delay is the time between two
 * firings, so an idle loop reads this much: it is taken off to show the lag alone.
 */
const loopResolutionMs = 10;

/**
 * Samples the safeguards' live readouts once a second: the most slots held and waiters during the
 * second (the queue's `takePeaks`, so a burst between two readings still shows), the operations done,
 * the refusals, the wait p99 and the event loop's delay. It reads the process's own counters only: no database query,
 * no connection, whoever watches the dashboard and however often. Its timer is unref'd: it never
 * keeps the process alive. It is the queue's one `takePeaks` reader.
 */
export function createLoadSampler(safeguards: Safeguards, options: LoadSamplerOptions = {}): LoadSampler {
  const keep = options.keepSeconds ?? 300;
  const samples: DashboardSample[] = [];
  const loopDelay = monitorEventLoopDelay({ resolution: loopResolutionMs });
  loopDelay.enable();
  let lastLoop = { p50Ms: 0, p99Ms: 0, maxMs: 0 };

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
    const toMs = (ns: number) =>
      Number.isFinite(ns) ? Math.max(0, Math.round((ns / 1e6 - loopResolutionMs) * 100) / 100) : 0;
    lastLoop = {
      p50Ms: toMs(loopDelay.percentile(50)),
      p99Ms: toMs(loopDelay.percentile(99)),
      maxMs: toMs(loopDelay.max),
    };
    loopDelay.reset();
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
      eventLoopP99Ms: lastLoop.p99Ms,
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
    eventLoop: () => lastLoop,
    refusals: () => [...refusalCounts.values()].sort((a, b) => b.count - a.count),
    stop() {
      clearInterval(timer);
      loopDelay.disable();
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
