import type { BreakerStats } from './breaker/circuit-breaker.js';
import type { AdaptiveConcurrencyStats } from './capacity/adaptive-concurrency.js';
import type { SharedBudgetStats } from './capacity/shared-budget.js';
import type { ReadOnlyStatus } from './degradation/read-only-mode.js';
import type { ErrorType } from './errors/error-type.js';
import type { Percentiles } from './internal/sample-window.js';
import type { LoadStats } from './load/load-monitor.js';
import type { QueueStats } from './queue/connection-queue.js';
import type { RateLimiterStats } from './rate-limit/rate-limiter.js';
import type { RetryBudgetStats } from './retry/retry-budget.js';

/** The process's effective connection limit and what sets it. */
export interface CapacityStats {
  /** The configured budget (`queue.maxConcurrentConnections`). */
  configured: number;
  /** Slots the process may hold now: the smallest of the configured budget and every input. */
  effective: number;
  /** The input that sets `effective` (`database`, `shared`, ...); undefined: the configured budget. */
  limitedBy: string | undefined;
  /** Every input's limit now, by name. */
  inputs: Record<string, number>;
  /** The `database` input: how "too many connections" answers lowered the limit; undefined when off. */
  adaptive: AdaptiveConcurrencyStats | undefined;
  /** The shared budget's readout (its mode: `shared`, or `fallback` while unreachable); undefined without one. */
  shared: SharedBudgetStats | undefined;
}

/** A snapshot of everything a Safeguards instance measures. */
export interface SafeguardsMetrics {
  uptimeMs: number;
  queue: QueueStats;
  /** The effective connection limit: the budget, lowered by the database's answers or a shared budget. */
  capacity: CapacityStats;
  breakers: Record<string, BreakerStats>;
  rateLimits: RateLimiterStats;
  retries: RetryBudgetStats & {
    /** Retries performed. */
    attempted: number;
    /** Operations that failed at first and then succeeded. */
    recovered: number;
  };
  operations: {
    started: number;
    succeeded: number;
    failed: number;
    /** Refused before running: read-only, rate limit, breaker, queue. */
    rejected: number;
    /** Running or waiting right now. */
    inFlight: number;
    /** Time spent running (not waiting), recent operations. */
    durationMs: Percentiles;
    /** Operations finished within the health window, and how many failed for a system reason. */
    windowTotal: number;
    windowFailed: number;
    /** windowFailed / windowTotal (0 when nothing ran). */
    errorRate: number;
  };
  errors: { total: number; byType: Partial<Record<ErrorType, number>> };
  readOnly: ReadOnlyStatus;
  /** The process's own load and what it sheds (`monitoring: false` without a sampler). */
  load: LoadStats;
}
