import type { BreakerDefinitions } from '../breaker/breaker-registry.js';
import type { CapacityOptions } from '../capacity/capacity-options.js';
import type { SharedConnectionBudget } from '../capacity/shared-budget.js';
import type { HealthOptions } from '../health/health-options.js';
import type { AmbientStorage } from '../internal/ambient.js';
import type { Clock } from '../internal/clock.js';
import type { LoadOptions } from '../load/load-options.js';
import type { QueueOptions } from '../queue/queue-options.js';
import type { RateLimitOptions } from '../rate-limit/rate-limiter.js';
import type { RetryOptions } from '../retry/retry-options.js';

/** Options of {@link createSafeguards}. Every group and field is optional. */
export interface SafeguardsOptions {
  /** The connection budget. */
  queue?: Partial<QueueOptions>;
  /**
   * How the effective limit adapts when the database says it is full (53300, Neon's "too many
   * connections"): lowered at once, grown back while calls succeed, never above `queue`'s budget.
   */
  capacity?: Partial<CapacityOptions>;
  /**
   * A connection budget shared with the other instances of the app (e.g. `createRedisBudget` of
   * `@db-safeguards/redis`): this process then holds at most its grant, and the adaptive limit
   * still applies. Unreachable, the budget falls back to a local limit, and health says degraded.
   * `close()` gives its slots back.
   */
  shared?: SharedConnectionBudget;
  /** Circuit breakers by name; `primary`, `critical` and `batch` exist by default. */
  breakers?: BreakerDefinitions;
  /** Rate-limit policies, store and adaptive limits. */
  rateLimits?: Partial<RateLimitOptions>;
  /** Retries with backoff and the retry budget. */
  retry?: Partial<RetryOptions>;
  /** Health thresholds and the optional database probe. */
  health?: Partial<HealthOptions>;
  /**
   * The process's own load (event-loop lag and utilisation, heap, RSS) as an admission input: past
   * its marks, new calls are refused by priority (BATCH and LOW first, CRITICAL never). Off until a
   * `sampler` is given (`createProcessLoadSampler()` on Node).
   */
  load?: Partial<LoadOptions>;
  degradation?: {
    /**
     * Breakers whose opening switches on read-only mode (writes refused with a clear message while
     * reads are served, from the stale cache if need be). Default `['primary']`; `[]` turns it off.
     */
    readOnlyWhenBreakerOpen?: string[];
  };
  /** Deadline of an operation that sets none (queueing, attempts and retry waits). Default 30 000 ms. */
  defaultTimeoutMs?: number;
  /** Recent errors kept for the admin error log: an integer from 1 to 100 000. Default 200. */
  errorLogSize?: number;
  /** Time source; inject a manual clock in tests. */
  clock?: Clock;
  /** Randomness for jitter; inject in tests. Default `Math.random`. */
  random?: () => number;
  /**
   * Where the ambient context lives. Default: AsyncLocalStorage where the runtime has one. Pass your
   * own (e.g. an AsyncLocalStorage imported on Cloudflare) or `false` to rely on explicit scopes only.
   */
  ambientStorage?: AmbientStorage<unknown> | false;
}
