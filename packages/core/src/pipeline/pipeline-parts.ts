import { BreakerRegistry } from '../breaker/breaker-registry.js';
import { BreakerState } from '../breaker/breaker-state.js';
import { AdaptiveConcurrency } from '../capacity/adaptive-concurrency.js';
import { type CapacityOptions, resolveCapacityOptions } from '../capacity/capacity-options.js';
import { EffectiveLimit } from '../capacity/effective-limit.js';
import { SharedBudgetLink } from '../capacity/shared-budget-link.js';
import type { SafeguardsOptions } from '../config/safeguards-options.js';
import { ReadOnlyMode } from '../degradation/read-only-mode.js';
import { readOnlyRefusal } from '../errors/refusals.js';
import type { SafeguardError } from '../errors/safeguard-error.js';
import { ErrorLog } from '../health/error-log.js';
import { type HealthOptions, resolveHealthOptions } from '../health/health-options.js';
import { type Clock, systemClock } from '../internal/clock.js';
import { assertInteger } from '../internal/validate.js';
import { LoadMonitor } from '../load/load-monitor.js';
import { resolveLoadOptions } from '../load/load-options.js';
import { ConnectionQueue } from '../queue/connection-queue.js';
import type { LoadReading } from '../rate-limit/adaptive-limits.js';
import { RateLimiter, type RateLimitResult } from '../rate-limit/rate-limiter.js';
import { RetryBudget } from '../retry/retry-budget.js';
import { type RetryOptions, resolveRetryOptions } from '../retry/retry-options.js';
import type { AdmissionGate } from './admission-gate.js';
import { OperationStats } from './operation-stats.js';
import type { ResolvedContext } from './resolved-context.js';

/**
 * What one `Safeguards` instance is made of, built from its options: the connection budget, the
 * breakers, the rate limiter, read-only mode, the retry settings and budget, health settings and the
 * operation counters. Admission and every operation read these; none of them knows how `run` works.
 */
export class PipelineParts {
  readonly clock: Clock;
  readonly random: () => number;
  readonly queue: ConnectionQueue;
  /** The slots the queue may grant now: the budget lowered by load signals. */
  readonly limit: EffectiveLimit;
  readonly capacityOptions: CapacityOptions;
  /** The `database` input of {@link limit}: lowered by "too many connections"; undefined when off. */
  readonly adaptive: AdaptiveConcurrency | undefined;
  /** The `shared` input of {@link limit}, when a shared budget was given. */
  readonly shared: SharedBudgetLink | undefined;
  readonly breakers: BreakerRegistry;
  readonly rateLimiter: RateLimiter;
  readonly readOnly: ReadOnlyMode;
  readonly errorLog: ErrorLog;
  readonly retryOptions: RetryOptions;
  readonly retryBudget: RetryBudget | undefined;
  readonly healthOptions: HealthOptions;
  readonly defaultTimeoutMs: number;
  readonly startedAt: number;
  readonly stats: OperationStats;
  /** The process's own load (event loop, memory); it measures nothing without a sampler. */
  readonly load: LoadMonitor;
  /** The admission inputs asked for every new call (see {@link AdmissionGate}); the load monitor when it measures. */
  readonly gates: readonly AdmissionGate[];
  private closing = false;

  constructor(options: SafeguardsOptions) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 30_000;
    assertInteger('defaultTimeoutMs', this.defaultTimeoutMs, 1);
    this.queue = new ConnectionQueue(options.queue, this.clock);
    const queue = this.queue;
    this.limit = new EffectiveLimit(
      queue.options.maxConcurrentConnections,
      (limit) => queue.setLimit(limit),
      () => queue.takeHeldPeak(),
    );
    this.capacityOptions = resolveCapacityOptions(options.capacity);
    const limit = this.limit;
    this.adaptive = this.capacityOptions.adaptive
      ? new AdaptiveConcurrency(
          queue.options.maxConcurrentConnections,
          this.capacityOptions,
          this.clock.now(),
          (n) => limit.set('database', n),
        )
      : undefined;
    this.shared =
      options.shared === undefined
        ? undefined
        : new SharedBudgetLink(options.shared, queue, limit, this.clock);
    this.breakers = new BreakerRegistry(options.breakers, this.clock);
    this.rateLimiter = new RateLimiter(options.rateLimits, this.clock);
    this.retryOptions = resolveRetryOptions(options.retry);
    this.retryBudget = this.retryOptions.budget
      ? new RetryBudget(this.clock, this.retryOptions.budget)
      : undefined;
    this.healthOptions = resolveHealthOptions(options.health);
    this.errorLog = new ErrorLog(options.errorLogSize ?? 200);
    this.stats = new OperationStats(this.clock, this.errorLog, this.healthOptions.errorRateWindowMs);
    const watched = options.degradation?.readOnlyWhenBreakerOpen ?? ['primary'];
    for (const name of watched) this.breakers.get(name);
    this.readOnly = new ReadOnlyMode(() => {
      for (const name of watched) {
        const state = this.breakers.get(name).state;
        if (state === BreakerState.OPEN || state === BreakerState.ISOLATED) return name;
      }
      return undefined;
    });
    const load = resolveLoadOptions(options.load);
    this.load = new LoadMonitor(load, this.clock);
    this.gates = load.sampler === undefined ? [] : [this.load];
    this.startedAt = this.clock.now();
  }

  /** True once `Safeguards.close` has been called: new work is refused. */
  get isClosing(): boolean {
    return this.closing;
  }

  startClosing(): void {
    this.closing = true;
  }

  /** The refusal a write gets now in read-only mode (with the wait until a breaker half-opens), if on. */
  readOnlyRefusal(): SafeguardError | undefined {
    const status = this.readOnly.status();
    if (!status.active) return undefined;
    let wait: number | undefined;
    for (const breaker of this.breakers.list()) {
      const ms = breaker.msUntilHalfOpen();
      if (ms > 0) wait = Math.max(wait ?? 0, ms);
    }
    return readOnlyRefusal(status, wait);
  }

  /** Charges the rate limit (adjusting adaptive limits first when due). May throw for an unknown policy. */
  checkRateLimit(context: ResolvedContext, now: number): RateLimitResult | Promise<RateLimitResult> {
    if (this.rateLimiter.isAdjustmentDue(now)) this.rateLimiter.adjustLimits(this.loadReading());
    return this.rateLimiter.check(context.policy!, context.identity, now);
  }

  /** Load readings in the units of `RateLimiter.adjustLimits`, from this instance's own metrics. */
  loadReading(): LoadReading {
    const queue = this.queue;
    const window = this.stats.window();
    return {
      connectionUsage: queue.queued > 0 ? 100 : (queue.active / queue.options.maxConcurrentConnections) * 100,
      responseTime: this.stats.durationQuantile(0.95),
      errorRate:
        window.total < this.healthOptions.errorRateMinimumOperations
          ? 0
          : (window.failed / window.total) * 100,
    };
  }
}
