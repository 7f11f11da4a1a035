/**
 * What `GET /api/admin/dashboard` answers: the operator dashboard's data. Types only, shared with the
 * web client (`web/src/dashboard`), which imports them with `import type`.
 */
import type { BreakerState, HealthStatus, PriorityName } from '@db-safeguards/core';

/** One second of the process's load, as the dashboard's charts plot it. */
export interface DashboardSample {
  /** The end of the second (epoch ms). */
  at: number;
  /** The most budget slots held at once during the second (read every 100 ms). */
  active: number;
  /** The most operations waiting for a slot at once during the second. */
  queued: number;
  /** The budget's effective limit at the end of the second, when the budget adapts (else absent). */
  effectiveLimit?: number;
  /** Database operations that ran and gave their slot back during the second (done or failed). */
  operations: number;
  /** Calls refused during the second (rate limit, breaker, read-only, shed), and queue timeouts. */
  refused: number;
  /** Of those, rate-limit refusals. */
  rateLimited: number;
  /** p99 of the wait for a slot over the recent waits, in ms. */
  waitP99Ms: number;
  /**
   * The event loop's delay as the load monitor last read it at the end of the second (the figure load
   * shedding and the health report use: the time-weighted p99), in ms; null while not monitored.
   */
  eventLoopDelayMs: number | null;
  /** Share of the time the event loop was busy, by the same reading, 0 to 1; null while not monitored. */
  eventLoopUtilization: number | null;
  /** The app role's backends on the server, when counted (the health probe counts them). */
  backends?: number;
}

/** One priority's share of the budget right now. */
export interface DashboardPriority {
  name: PriorityName;
  /** Slots it holds. */
  active: number;
  /** Operations waiting for a slot. */
  queued: number;
  waitP50Ms: number;
  waitP99Ms: number;
  paused: boolean;
}

/** Refused calls of one kind since the process started. */
export interface DashboardRefusal {
  type: string;
  reason: string;
  count: number;
}

export interface DashboardBreaker {
  name: string;
  state: BreakerState;
  /** Failure rate in the breaker's window (0..1). */
  failureRate: number;
  consecutiveFailures: number;
  /** Calls it refused since the process started. */
  rejected: number;
  /** When an open breaker admits probes (epoch ms), else null. */
  nextAttemptAt: number | null;
}

/** The operator dashboard's whole view, made without a database query (see `load-sampler.ts`). */
export interface DashboardSnapshot {
  /** When it was made (epoch ms, the server's clock). */
  at: number;
  uptimeMs: number;
  /** `pglite`, `postgres` or `neon`. */
  driver: string;
  budget: {
    /** The configured budget: the most slots ever held at once. */
    max: number;
    reservedForCritical: number;
    /**
     * The limit the budget applies right now, when it adapts to the database's answers (below `max`
     * after "too many connections"); absent when the core does not report one.
     */
    effectiveLimit?: number;
    active: number;
    peakActive: number;
    queued: number;
    maxQueueSize: number;
    paused: PriorityName[];
  };
  /** Highest first: CRITICAL, HIGH, NORMAL, LOW, BATCH. */
  priorities: DashboardPriority[];
  /** Released slots and refused waiters since the process started. */
  outcomes: {
    processed: number;
    failed: number;
    shed: number;
    timedOut: number;
    aborted: number;
    abandoned: number;
  };
  /** Calls refused before they ran, by type and reason, most first. */
  refusals: DashboardRefusal[];
  breakers: DashboardBreaker[];
  rateLimits: {
    /** The adaptive multiplier of the clients above their fair share under lasting load (1: none). */
    multiplier: number;
    /** Clients whose limits are tightened now. */
    tightenedClients: number;
    checks: number;
    limited: number;
    byPolicy: Array<{ policy: string; checks: number; limited: number }>;
  };
  readOnly: { active: boolean; reason: string | null };
  /**
   * The event loop as the load monitor last read it: the same figures as the health report's `load`
   * component and the `db_safeguards_load_event_loop_delay_seconds` metric. Null figures while load
   * is not monitored (LOAD_SHEDDING off).
   */
  eventLoop: { delayMs: number | null; utilization: number | null; sampledAt: number | null };
  /** Load shedding: the priorities refused now because this process is overloaded, and why. */
  load: {
    monitoring: boolean;
    /** Highest first; [] when none. */
    shedding: string[];
    /** E.g. "event-loop delay p99 230 ms >= 200 ms"; null when nothing is shed. */
    cause: string | null;
    /** New calls refused for load since the start. */
    shed: number;
  };
  database: {
    /** From the last health report (shared with `/api/health`, one probe per second at most). */
    health: HealthStatus | 'unknown';
    /** The database part of that report: the probe's answer. */
    probe: { status: HealthStatus; message: string; responseTimeMs: number; checkedAt: number } | null;
    /** The app role's backends on the server, as the last probe counted them. */
    backends: { count: number; countedAt: number } | null;
    /** Why backends are not counted, when they are not. */
    backendsNote?: string;
  };
  /** Samples newer than the request's `since` (all kept ones without it: the last 5 minutes). */
  history: DashboardSample[];
}
