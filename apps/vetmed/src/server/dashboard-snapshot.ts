import { priorities, priorityName, type Safeguards } from '@db-safeguards/core';
import type { DashboardSnapshot } from './dashboard-types.js';
import type { HealthCache } from './health-cache.js';
import { effectiveLimitOf, eventLoopReadings, type LoadSampler } from './load-sampler.js';

/** What the dashboard is made from: live readouts only. */
export interface DashboardSources {
  safeguards: Safeguards;
  sampler: LoadSampler;
  health: HealthCache;
  /** `pglite`, `postgres` or `neon`. */
  driver: string;
  /** The app role's backends as the last health probe counted them. */
  backends?: (() => { count: number; countedAt: number } | undefined) | undefined;
  /** Why backends are not counted, when they are not. */
  backendsNote?: string | undefined;
}

/**
 * The operator dashboard's view. It costs no database query: the figures are the safeguards' own
 * counters and the sampler's history; the database's state comes from the health report kept for
 * `/api/health`, read without waiting. When that report is older than its cache allows, a refresh
 * is started in the background, shared with every health check, so polling the dashboard every
 * second adds at most what one health check a second costs (one probe on the CRITICAL reserve),
 * and a slow or down database never makes the dashboard itself slow.
 */
export function buildDashboardSnapshot(sources: DashboardSources, since?: number): DashboardSnapshot {
  const { safeguards, sampler, health } = sources;
  const metrics = safeguards.metrics();
  const { queue } = metrics;
  const effectiveLimit = effectiveLimitOf(queue);
  // report() answers from the kept report while it is fresh, so this starts a probe only when due.
  health.report().catch(() => undefined);
  const kept = health.latest();
  const probe = kept?.report.components.database;
  const backends = sources.backends?.();
  return {
    at: Date.now(),
    uptimeMs: metrics.uptimeMs,
    driver: sources.driver,
    budget: {
      max: queue.maxConcurrentConnections,
      reservedForCritical: queue.reservedForCritical,
      ...(effectiveLimit === undefined ? {} : { effectiveLimit }),
      active: queue.active,
      peakActive: queue.peakActive,
      queued: queue.queued,
      maxQueueSize: queue.maxQueueSize,
      paused: queue.paused,
    },
    // `priorities` is highest first.
    priorities: priorities.map((priority) => {
      const name = priorityName(priority);
      const wait = queue.waitMsByPriority[name];
      return {
        name,
        active: queue.activeByPriority[name],
        queued: queue.queuedByPriority[name],
        waitP50Ms: Math.round(wait.p50 * 10) / 10,
        waitP99Ms: Math.round(wait.p99 * 10) / 10,
        paused: queue.paused.includes(name),
      };
    }),
    outcomes: {
      processed: queue.processed,
      failed: queue.failed,
      shed: queue.shed,
      timedOut: queue.timedOut,
      aborted: queue.aborted,
      abandoned: queue.abandoned,
    },
    refusals: sampler.refusals(),
    breakers: Object.values(metrics.breakers).map((breaker) => ({
      name: breaker.name,
      state: breaker.state,
      failureRate: breaker.failureRate,
      consecutiveFailures: breaker.consecutiveFailures,
      rejected: breaker.rejected,
      nextAttemptAt: breaker.nextAttemptAt,
    })),
    rateLimits: {
      multiplier: metrics.rateLimits.multiplier,
      tightenedClients: metrics.rateLimits.tightenedClients,
      checks: metrics.rateLimits.checks,
      limited: metrics.rateLimits.limited,
      byPolicy: Object.entries(metrics.rateLimits.byPolicy).map(([policy, counts]) => ({
        policy,
        ...counts,
      })),
    },
    readOnly: { active: metrics.readOnly.active, reason: metrics.readOnly.reason },
    eventLoop: eventLoopReadings(metrics.load),
    load: {
      monitoring: metrics.load.monitoring,
      shedding: metrics.load.shedding,
      cause: metrics.load.cause?.message ?? null,
      shed: metrics.load.shed,
    },
    database: {
      health: kept?.report.status ?? 'unknown',
      probe:
        probe && kept
          ? {
              status: probe.status,
              message: probe.message,
              responseTimeMs: Math.round(probe.responseTimeMs * 10) / 10,
              checkedAt: kept.madeAt,
            }
          : null,
      backends: backends ?? null,
      ...(sources.backendsNote === undefined ? {} : { backendsNote: sources.backendsNote }),
    },
    history: sampler.history(since),
  };
}
