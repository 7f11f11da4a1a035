import type { BreakerRegistry } from './breaker/breaker-registry.js';
import { BreakerState } from './breaker/breaker-state.js';
import type { BreakerStateChange, CircuitBreaker } from './breaker/circuit-breaker.js';
import type { SafeguardsOptions } from './config/safeguards-options.js';
import type { ReadOnlyMode } from './degradation/read-only-mode.js';
import { classifyError } from './errors/classify-error.js';
import { callerAborted, deadlinePassed, rateLimitRefusal, shuttingDown } from './errors/refusals.js';
import type { SafeguardError } from './errors/safeguard-error.js';
import type { ErrorLog } from './health/error-log.js';
import { buildHealthReport, type HealthReport, type ProbeResult } from './health/health-report.js';
import { sleep } from './internal/clock.js';
import type { Event } from './internal/events.js';
import type { RunContext } from './operation-context.js';
import type { OperationScope } from './pipeline/operation-scope.js';
import {
  type Operation,
  type OperationEndEvent,
  Pipeline,
  type RejectionEvent,
  type RetryEvent,
  type WithContextResult,
} from './pipeline/pipeline.js';
import { type ResolvedContext, resolveContext } from './pipeline/resolved-context.js';
import { Priority, type Priority as PriorityValue } from './priority.js';
import type { ConnectionQueue } from './queue/connection-queue.js';
import type { LoadReading } from './rate-limit/adaptive-limits.js';
import type { RateLimiter, RateLimitResult } from './rate-limit/rate-limiter.js';
import type { SafeguardsMetrics } from './safeguards-metrics.js';

export type { Operation, OperationEndEvent, RejectionEvent, RetryEvent, WithContextResult };

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
 *  4. rate limit (when a policy is given; CRITICAL bypasses) → RATE_LIMIT;
 *  5. circuit breaker → CIRCUIT_BREAKER, before queueing;
 *  6. connection budget → a slot, or QUEUE_FULL / TIMEOUT;
 *  7. the operation, bounded by the deadline;
 *  8. on a transient failure: release the slot, back off (within the retry budget and the deadline),
 *     and go round from step 5 with the whole operation.
 */
export class Safeguards {
  /** @internal */
  private readonly pipeline: Pipeline;
  /** A failed attempt is about to be retried. */
  readonly onRetry: Event<RetryEvent>;
  /** An operation was refused before it ran (read-only, rate limit, breaker, queue). */
  readonly onRejection: Event<RejectionEvent>;
  /** An operation settled, successfully or not. */
  readonly onOperationEnd: Event<OperationEndEvent>;
  /** A circuit breaker changed state. */
  readonly onBreakerStateChange: Event<BreakerStateChange>;
  private closed: Promise<void> | undefined;

  constructor(options: SafeguardsOptions = {}) {
    this.pipeline = new Pipeline(this, options);
    this.onRetry = this.pipeline.retryEmitter.event;
    this.onRejection = this.pipeline.rejectionEmitter.event;
    this.onOperationEnd = this.pipeline.endEmitter.event;
    this.onBreakerStateChange = this.pipeline.breakers.onStateChange;
  }

  /** The connection budget. */
  get queue(): ConnectionQueue {
    return this.pipeline.queue;
  }

  get breakers(): BreakerRegistry {
    return this.pipeline.breakers;
  }

  get rateLimiter(): RateLimiter {
    return this.pipeline.rateLimiter;
  }

  get readOnly(): ReadOnlyMode {
    return this.pipeline.readOnly;
  }

  /** Recent classified errors. */
  get errorLog(): ErrorLog {
    return this.pipeline.errorLog;
  }

  /** True once {@link close} has been called. */
  get isClosed(): boolean {
    return this.closed !== undefined;
  }

  /**
   * Runs `operation` under every safeguard (see the class comment for the order). Resolves with its
   * value or rejects with a {@link SafeguardError} whose `cause` is the original error.
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
      this.pipeline.clock.now(),
      this.pipeline.defaultTimeoutMs,
    );
  }

  /**
   * The checks of `run` that need no slot, for adapters that refuse a request before doing any work:
   * closed, aborted or past its deadline, read-only (writes), rate limit (charged here, once per
   * request), circuit breaker and load shedding. Rejects with the SafeguardError the request would get.
   */
  async admit(context: RunContext = {}): Promise<Admission> {
    const pipeline = this.pipeline;
    const now = pipeline.clock.now();
    const resolved = resolveContext(context, pipeline.ownStore()?.inherited, now, pipeline.defaultTimeoutMs);
    const refuse = (error: SafeguardError, stage: RejectionEvent['stage']) => {
      pipeline.counts.rejected++;
      if (pipeline.rejectionEmitter.hasListeners)
        pipeline.rejectionEmitter.emit({ error, stage, priority: resolved.priority, label: resolved.label });
      return error;
    };
    if (pipeline.closing) throw refuse(shuttingDown('safeguards are closed (shutting down)'), 'queue');
    // A caller that has gone, or a request already past its deadline, must not spend a token.
    if (resolved.signal?.aborted) throw refuse(callerAborted(resolved.signal.reason), 'queue');
    if (now >= resolved.deadline) throw refuse(deadlinePassed(resolved.label), 'queue');
    if (resolved.isWrite) {
      const readOnly = pipeline.readOnlyRefusal();
      if (readOnly) throw refuse(readOnly, 'read-only');
    }
    let rateLimit: RateLimitResult | undefined;
    if (resolved.policy !== undefined && resolved.priority !== Priority.CRITICAL) {
      rateLimit = await pipeline.checkRateLimit(resolved, now);
      if (!rateLimit.allowed) throw refuse(rateLimitRefusal(rateLimit), 'rate-limit');
    }
    const breaker = pipeline.breakers.get(resolved.breaker);
    if (!breakerWouldAdmit(breaker)) throw refuse(breaker.rejection(), 'breaker');
    const shed = pipeline.queue.checkAdmission(resolved.priority);
    if (shed) throw refuse(shed, 'queue');
    return { context: resolved, rateLimit };
  }

  /** Reports health from live readouts; with `probe: true` also runs the configured database probe. */
  async health(options: { probe?: boolean } = {}): Promise<HealthReport> {
    const { clock, healthOptions } = this.pipeline;
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
        };
      }
    }
    return buildHealthReport(this.metrics(), healthOptions, probe, clock.now());
  }

  metrics(): SafeguardsMetrics {
    const pipeline = this.pipeline;
    const windowTotal = pipeline.windowTotal.total();
    const windowFailed = pipeline.windowFailed.total();
    const budget = pipeline.retryBudget?.stats() ?? { requests: 0, retries: 0, exhausted: 0 };
    return {
      uptimeMs: pipeline.clock.now() - pipeline.startedAt,
      queue: pipeline.queue.stats(),
      breakers: pipeline.breakers.stats(),
      rateLimits: pipeline.rateLimiter.stats(),
      retries: { ...budget, attempted: pipeline.counts.retries, recovered: pipeline.counts.recovered },
      operations: {
        started: pipeline.counts.started,
        succeeded: pipeline.counts.succeeded,
        failed: pipeline.counts.failed,
        rejected: pipeline.counts.rejected,
        inFlight: pipeline.counts.inFlight,
        durationMs: pipeline.durations.percentiles(),
        windowTotal,
        windowFailed,
        errorRate: windowTotal === 0 ? 0 : windowFailed / windowTotal,
      },
      errors: pipeline.errorLog.counts(),
      readOnly: pipeline.readOnly.status(),
    };
  }

  /** Load readings in the units of `RateLimiter.adjustLimits`, from this instance's own metrics. */
  loadReading(): LoadReading {
    return this.pipeline.loadReading();
  }

  /** Emergency stop: no new slot is granted to any priority until {@link resumeAll}. */
  pauseAll(): void {
    this.pipeline.queue.pause();
  }

  resumeAll(): void {
    this.pipeline.queue.resume();
  }

  /** Pauses only some priorities (e.g. BATCH during an incident). */
  pause(which: readonly PriorityValue[]): void {
    this.pipeline.queue.pause(which);
  }

  resume(which: readonly PriorityValue[]): void {
    this.pipeline.queue.resume(which);
  }

  /**
   * Stops admitting new operations, lets queued and running ones finish for up to `drainTimeoutMs`,
   * then refuses whatever still waits. Running operations are never cut off here.
   */
  close(options: { drainTimeoutMs?: number } = {}): Promise<void> {
    if (this.closed) return this.closed;
    const pipeline = this.pipeline;
    pipeline.closing = true;
    const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    this.closed = (async () => {
      // The caller awaits this drain, so its timer keeps the process alive; it is cleared once idle.
      const drained = new AbortController();
      const drainWindow = sleep(pipeline.clock, drainTimeoutMs, drained.signal, true).catch(() => {});
      await Promise.race([pipeline.queue.onIdle(), drainWindow]);
      drained.abort();
      pipeline.queue.close();
    })();
    return this.closed;
  }
}

/** Would the breaker let a call through now? (A half-open breaker is asked without keeping the probe.) */
function breakerWouldAdmit(breaker: CircuitBreaker): boolean {
  const state = breaker.state;
  if (state === BreakerState.CLOSED) return true;
  if (state !== BreakerState.HALF_OPEN) return false;
  const permit = breaker.tryAcquire();
  if (permit === undefined) return false;
  breaker.release(permit);
  return true;
}

/** Creates a {@link Safeguards} instance: one connection budget for the process. */
export function createSafeguards(options: SafeguardsOptions = {}): Safeguards {
  return new Safeguards(options);
}
