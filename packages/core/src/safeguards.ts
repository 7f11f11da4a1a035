import type { BreakerRegistry } from './breaker/breaker-registry.js';
import type { BreakerStateChange } from './breaker/circuit-breaker.js';
import { isCapacitySignal } from './capacity/capacity-signal.js';
import type { EffectiveLimit, LimitChange } from './capacity/effective-limit.js';
import type { SafeguardsOptions } from './config/safeguards-options.js';
import type { ReadOnlyMode } from './degradation/read-only-mode.js';
import { classifyError } from './errors/classify-error.js';
import type { ErrorLog } from './health/error-log.js';
import { buildHealthReport, type HealthReport, type ProbeResult } from './health/health-report.js';
import { sleep } from './internal/clock.js';
import type { Event } from './internal/events.js';
import type { RunContext } from './operation-context.js';
import { admission, Refusal, slotRefusal } from './pipeline/admission.js';
import type { Operation, OperationEndEvent, RejectionEvent, RetryEvent } from './pipeline/operation.js';
import type { OperationScope } from './pipeline/operation-scope.js';
import { Pipeline, type WithContextResult } from './pipeline/pipeline.js';
import type { PipelineParts } from './pipeline/pipeline-parts.js';
import { type ResolvedContext, resolveContext } from './pipeline/resolved-context.js';
import { Priority, type Priority as PriorityValue } from './priority.js';
import type { ConnectionQueue } from './queue/connection-queue.js';
import type { LoadReading } from './rate-limit/adaptive-limits.js';
import type { RateLimiter, RateLimitResult } from './rate-limit/rate-limiter.js';
import type { SafeguardsMetrics } from './safeguards-metrics.js';

/** What an adapter learns from {@link Safeguards.admit}. */
export interface Admission {
  context: ResolvedContext;
  /** The rate-limit result when a policy was charged (for response headers). */
  rateLimit: RateLimitResult | undefined;
}

/**
 * One process's safeguards: ONE connection budget (priority queue), circuit breakers, retries, rate
 * limits, degradation and health. Every database operation of the process goes through {@link run}.
 *
 * Composition order of `run` (work that cannot succeed is refused before it waits or holds a slot):
 *  1. nested call on a held slot → runs on that slot (re-entrancy), taking turns with the other nested
 *     calls on it; its own signal, deadline and the read-only check still apply;
 *  2. closed, or the caller's signal already aborted → refused;
 *  3. read-only mode → writes refused;
 *  4. the process's load (when a sampler is set; a request's first operation only) → QUEUE_FULL
 *     `overloaded`, by priority: BATCH and LOW first, then NORMAL, HIGH past its own mark, never CRITICAL;
 *  5. rate limit (when a policy is given; CRITICAL bypasses) → RATE_LIMIT;
 *  6. circuit breaker → CIRCUIT_BREAKER, before queueing;
 *  7. connection budget → a slot, or QUEUE_FULL / TIMEOUT;
 *  8. the operation, bounded by the deadline;
 *  9. on a transient failure: release the slot, back off (within the retry budget and the deadline),
 *     and go round from step 6 with the whole operation.
 */
export class Safeguards {
  /** @internal How `run` works (see pipeline/pipeline.ts). */
  private readonly pipeline: Pipeline;
  /** @internal What this instance is made of. */
  private readonly parts: PipelineParts;
  /** A failed attempt is about to be retried. */
  readonly onRetry: Event<RetryEvent>;
  /** An operation was refused before it ran (read-only, load, rate limit, breaker, queue). */
  readonly onRejection: Event<RejectionEvent>;
  /** An operation settled, successfully or not. */
  readonly onOperationEnd: Event<OperationEndEvent>;
  /** A circuit breaker changed state. */
  readonly onBreakerStateChange: Event<BreakerStateChange>;
  /**
   * The effective connection limit changed (the database said it was full, a calm period gave a slot
   * back, a shared budget's grant moved). A driver pool listens to close idle connections the limit
   * no longer allows.
   */
  readonly onLimitChange: Event<LimitChange>;
  private closed: Promise<void> | undefined;

  constructor(options: SafeguardsOptions = {}) {
    this.pipeline = new Pipeline(this, options);
    this.parts = this.pipeline.parts;
    this.onRetry = this.parts.stats.onRetry;
    this.onRejection = this.parts.stats.onRejection;
    this.onOperationEnd = this.parts.stats.onOperationEnd;
    this.onBreakerStateChange = this.parts.breakers.onStateChange;
    this.onLimitChange = this.parts.limit.onChange;
  }

  /** The connection budget. */
  get queue(): ConnectionQueue {
    return this.parts.queue;
  }

  get breakers(): BreakerRegistry {
    return this.parts.breakers;
  }

  get rateLimiter(): RateLimiter {
    return this.parts.rateLimiter;
  }

  /**
   * The effective connection limit: the budget lowered by load signals. Other signals (event-loop
   * lag, memory, ...) feed it with `limit.set(name, slots)`; the smallest input wins.
   */
  get limit(): EffectiveLimit {
    return this.parts.limit;
  }

  get readOnly(): ReadOnlyMode {
    return this.parts.readOnly;
  }

  /** Recent classified errors. */
  get errorLog(): ErrorLog {
    return this.parts.errorLog;
  }

  /** True once {@link close} has been called. */
  get isClosed(): boolean {
    return this.closed !== undefined;
  }

  /**
   * Runs `operation` under every safeguard (see the class comment for the order). Resolves with its
   * value or rejects with a {@link SafeguardError} whose `cause` is the original error.
   *
   * @example
   * const orders = await safeguards.run(
   *   () => sql`select * from orders where customer_id = ${customerId}`,
   *   { operationType: 'read', priority: Priority.HIGH, timeoutMs: 5_000, userId },
   * );
   */
  run<T>(operation: Operation<T>, context: RunContext = {}): Promise<T> {
    return this.pipeline.run(operation, context);
  }

  /**
   * Runs `callback` with `context` as the ambient context: every `run` inside it (however deep)
   * inherits its priority, deadline, signal, identity and breaker. Rate limits are not charged here;
   * see {@link admit}. A lazy thenable the callback returns (a drizzle query) is started inside the
   * context and comes back as a promise. Without AsyncLocalStorage on the runtime, `callback` runs
   * without it.
   *
   * @example
   * // One HTTP request: every query inside inherits its priority, deadline, signal and identity.
   * app.get('/orders', (req, res) =>
   *   safeguards.withContext(
   *     { priority: Priority.HIGH, timeoutMs: 5_000, signal: req.signal, userId: req.user.id },
   *     async () => res.json(await listOrders(req.user.id)),
   *   ),
   * );
   */
  withContext<R>(context: RunContext, callback: () => R): WithContextResult<R> {
    return this.pipeline.withContext(context, callback);
  }

  /** The scope of the operation holding a slot in the current async context, if any (for driver wrappers). */
  currentScope(): OperationScope | undefined {
    const slot = this.pipeline.ownStore()?.slot;
    return slot?.holdsSlot ? slot : undefined;
  }

  /** The context `run` would use here for `context` (inheritance and defaults applied). */
  resolveContext(context: RunContext = {}): ResolvedContext {
    return resolveContext(
      context,
      this.pipeline.ownStore()?.inherited,
      this.parts.clock.now(),
      this.parts.defaultTimeoutMs,
    );
  }

  /**
   * The checks of `run` that need no slot, for adapters that refuse a request before doing any work:
   * closed, aborted or past its deadline, read-only (writes), the process's load, rate limit (charged here, once per
   * request), circuit breaker and load shedding. Rejects with the SafeguardError the request would get.
   *
   * @example
   * const { rateLimit } = await safeguards.admit({ policy: 'api', userId, operationType: 'write' });
   * if (rateLimit) for (const [name, value] of Object.entries(rateLimitHeaders(rateLimit))) res.setHeader(name, value);
   */
  async admit(context: RunContext = {}): Promise<Admission> {
    const parts = this.parts;
    const now = parts.clock.now();
    const resolved = resolveContext(
      context,
      this.pipeline.ownStore()?.inherited,
      now,
      parts.defaultTimeoutMs,
    );
    let outcome = admission(parts, resolved, now);
    if (outcome instanceof Promise) outcome = await outcome;
    const refusal = outcome instanceof Refusal ? outcome : slotRefusal(parts, resolved);
    if (refusal !== undefined) {
      parts.stats.requestRefused(refusal.error, refusal.stage, resolved);
      throw refusal.error;
    }
    return { context: resolved, rateLimit: outcome as RateLimitResult | undefined };
  }

  /** Reports health from live readouts; with `probe: true` also runs the configured database probe. */
  async health(options: { probe?: boolean } = {}): Promise<HealthReport> {
    const { clock, healthOptions } = this.parts;
    let probe: ProbeResult | undefined;
    if (options.probe && healthOptions.probe) {
      const started = clock.now();
      try {
        await this.run(healthOptions.probe, {
          operationType: 'critical',
          priority: Priority.CRITICAL,
          // A probe (`select 1`) is safe to repeat; 'critical' alone no longer implies that.
          idempotent: true,
          timeoutMs: healthOptions.probeTimeoutMs,
          label: 'health-probe',
        });
        probe = { ok: true, responseTimeMs: clock.now() - started };
      } catch (error) {
        const classified = classifyError(error);
        probe = {
          ok: false,
          responseTimeMs: clock.now() - started,
          error: `${classified.type}: ${classified.reason}`,
          ...(isCapacitySignal(classified) ? { full: true } : {}),
        };
      }
    }
    return buildHealthReport(this.metrics(), healthOptions, probe, clock.now());
  }

  metrics(): SafeguardsMetrics {
    const parts = this.parts;
    const counts = parts.stats.counts();
    const window = parts.stats.window();
    const budget = parts.retryBudget?.stats() ?? { requests: 0, retries: 0, exhausted: 0 };
    return {
      uptimeMs: parts.clock.now() - parts.startedAt,
      queue: parts.queue.stats(),
      capacity: {
        configured: parts.limit.configured,
        effective: parts.limit.limit,
        limitedBy: parts.limit.limitedBy,
        inputs: parts.limit.snapshot(),
        adaptive: parts.adaptive?.stats(),
        shared: parts.shared?.budget.stats(),
      },
      breakers: parts.breakers.stats(),
      rateLimits: parts.rateLimiter.stats(),
      retries: { ...budget, attempted: counts.retries, recovered: counts.recovered },
      operations: {
        started: counts.started,
        succeeded: counts.succeeded,
        failed: counts.failed,
        rejected: counts.rejected,
        inFlight: counts.inFlight,
        durationMs: parts.stats.durationPercentiles(),
        windowTotal: window.total,
        windowFailed: window.failed,
        errorRate: window.total === 0 ? 0 : window.failed / window.total,
      },
      errors: parts.errorLog.counts(),
      readOnly: parts.readOnly.status(),
      load: parts.load.stats(),
    };
  }

  /** Load readings in the units of `RateLimiter.adjustLimits`, from this instance's own metrics. */
  loadReading(): LoadReading {
    return this.parts.loadReading();
  }

  /** Emergency stop: no new slot is granted to any priority until {@link resumeAll}. */
  pauseAll(): void {
    this.parts.queue.pause();
  }

  resumeAll(): void {
    this.parts.queue.resume();
  }

  /** Pauses only some priorities (e.g. BATCH during an incident). */
  pause(which: readonly PriorityValue[]): void {
    this.parts.queue.pause(which);
  }

  resume(which: readonly PriorityValue[]): void {
    this.parts.queue.resume(which);
  }

  /**
   * Stops admitting new operations, lets queued and running ones finish for up to `drainTimeoutMs`,
   * then refuses whatever still waits. Running operations are never cut off here.
   */
  close(options: { drainTimeoutMs?: number } = {}): Promise<void> {
    if (this.closed) return this.closed;
    const parts = this.parts;
    parts.startClosing();
    const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    this.closed = (async () => {
      // The caller awaits this drain, so its timer keeps the process alive; it is cleared once idle.
      const drained = new AbortController();
      const drainWindow = sleep(parts.clock, drainTimeoutMs, drained.signal, true).catch(() => {});
      await Promise.race([parts.queue.onIdle(), drainWindow]);
      drained.abort();
      parts.queue.close();
      // Its slots go back to the other instances now, not when its lease runs out.
      await parts.shared?.close();
      parts.load.close();
    })();
    return this.closed;
  }
}

/**
 * Creates a {@link Safeguards} instance: one connection budget for the process. Create one per
 * process (per database) and share it; every option is validated at once.
 *
 * @example
 * import { createSafeguards } from '@db-safeguards/core';
 *
 * export const safeguards = createSafeguards({
 *   queue: { maxConcurrentConnections: 8 }, // no more than the database allows this process
 *   health: { probe: () => sql`select 1` },
 * });
 */
export function createSafeguards(options: SafeguardsOptions = {}): Safeguards {
  return new Safeguards(options);
}
