import type { BreakerStats } from './breaker/circuit-breaker.js';
import type { ReadOnlyStatus } from './degradation/read-only-mode.js';
import type { ErrorType } from './errors/error-type.js';
import type { Percentiles } from './internal/sample-window.js';
import type { LoadStats } from './load/load-monitor.js';
import type { QueueStats } from './queue/connection-queue.js';
import type { RateLimiterStats } from './rate-limit/rate-limiter.js';
import type { RetryBudgetStats } from './retry/retry-budget.js';

/** A snapshot of everything a Safeguards instance measures. */
export interface SafeguardsMetrics {
  uptimeMs: number;
  queue: QueueStats;
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
