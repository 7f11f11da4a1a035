import { BreakerRegistry } from '../breaker/breaker-registry.js';
import { BreakerState } from '../breaker/breaker-state.js';
import type { SafeguardsOptions } from '../config/safeguards-options.js';
import { ReadOnlyMode } from '../degradation/read-only-mode.js';
import { readOnlyRefusal } from '../errors/refusals.js';
import type { SafeguardError } from '../errors/safeguard-error.js';
import { ErrorLog } from '../health/error-log.js';
import { type HealthOptions, resolveHealthOptions } from '../health/health-options.js';
import { type AmbientStorage, createAmbientStorage } from '../internal/ambient.js';
import { type Clock, systemClock } from '../internal/clock.js';
import { DueTimers } from '../internal/due-timers.js';
import { EventEmitter } from '../internal/events.js';
import { RollingCounter } from '../internal/rolling-counter.js';
import { SampleWindow } from '../internal/sample-window.js';
import { assertInteger } from '../internal/validate.js';
import type { RunContext } from '../operation-context.js';
import type { Priority as PriorityValue } from '../priority.js';
import { ConnectionQueue } from '../queue/connection-queue.js';
import type { LoadReading } from '../rate-limit/adaptive-limits.js';
import { RateLimiter, type RateLimitResult } from '../rate-limit/rate-limiter.js';
import { RetryBudget } from '../retry/retry-budget.js';
import { type RetryOptions, resolveRetryOptions } from '../retry/retry-options.js';
import { Execution } from './execution.js';
import { isSystemFailure } from './failure-policy.js';
import { NestedCall } from './nested-call.js';
import type { OperationScope } from './operation-scope.js';
import {
  type InheritedContext,
  type ResolvedContext,
  resolveContext,
  toInherited,
} from './resolved-context.js';
import type { AmbientStore, SlotScope } from './slot-scope.js';

/** The work `run` protects. It receives its scope (signal, deadline, attempt). */
export type Operation<T> = (scope: OperationScope) => T | PromiseLike<T>;

/** What the pipeline needs to know of a running {@link Execution}, whatever its result type. */
export interface ExecutionView {
  /** 1 for the first attempt, 2 for the first retry, ... (0 when refused before the first). */
  readonly attempt: number;
  /** When `run` was called (epoch ms). */
  readonly startTime: number;
  readonly context: ResolvedContext;
}

export interface RetryEvent {
  /** The retry about to happen: 1 for the first retry. */
  retry: number;
  delayMs: number;
  error: SafeguardError;
  label: string | undefined;
}

export interface RejectionEvent {
  error: SafeguardError;
  stage: 'read-only' | 'rate-limit' | 'breaker' | 'queue';
  priority: PriorityValue;
  label: string | undefined;
}

export interface OperationEndEvent {
  ok: boolean;
  error: SafeguardError | undefined;
  priority: PriorityValue;
  label: string | undefined;
  /** From `run` being called to settling, waiting and retries included. */
  totalMs: number;
  attempts: number;
}

let sharedAmbient: AmbientStorage<AmbientStore> | undefined;

/**
 * The storage every instance shares, created on first use rather than at import, so that the `node`
 * entry has registered node:async_hooks' AsyncLocalStorage by then.
 */
function sharedAmbientStorage(): AmbientStorage<AmbientStore> | undefined {
  sharedAmbient ??= createAmbientStorage<AmbientStore>();
  return sharedAmbient;
}

/** What `withContext` returns: a lazy thenable comes back as the promise of its value. */
export type WithContextResult<R> =
  R extends Promise<unknown> ? R : R extends PromiseLike<infer V> ? Promise<V> : R;

/**
 * Query builders such as drizzle's are lazy thenables: they run when awaited, which would be after
 * the context block has ended. Starting them inside the block keeps them in its context.
 */
function startLazy<R>(result: R): WithContextResult<R> {
  const then = (result as { then?: unknown } | null | undefined)?.then;
  if (typeof then !== 'function' || result instanceof Promise) return result as WithContextResult<R>;
  return new Promise((resolve, reject) => {
    (result as PromiseLike<unknown>).then(resolve, reject);
  }) as WithContextResult<R>;
}

function runAndStart<R>(callback: () => R): WithContextResult<R> {
  return startLazy(callback());
}

/**
 * @internal The parts of a Safeguards instance and the bookkeeping every {@link Execution} reports
 * to. Not exported from the package: `Safeguards` is the public face.
 */
export class Pipeline {
  readonly clock: Clock;
  readonly random: () => number;
  readonly ambient: AmbientStorage<AmbientStore> | undefined;
  readonly queue: ConnectionQueue;
  readonly breakers: BreakerRegistry;
  readonly rateLimiter: RateLimiter;
  readonly readOnly: ReadOnlyMode;
  readonly errorLog: ErrorLog;
  readonly timers: DueTimers;
  readonly retryOptions: RetryOptions;
  readonly retryBudget: RetryBudget | undefined;
  readonly healthOptions: HealthOptions;
  readonly defaultTimeoutMs: number;
  readonly startedAt: number;
  readonly durations = new SampleWindow(2048);
  readonly windowTotal: RollingCounter;
  readonly windowFailed: RollingCounter;
  readonly counts = {
    started: 0,
    succeeded: 0,
    failed: 0,
    rejected: 0,
    inFlight: 0,
    retries: 0,
    recovered: 0,
  };
  readonly retryEmitter = new EventEmitter<RetryEvent>();
  readonly rejectionEmitter = new EventEmitter<RejectionEvent>();
  readonly endEmitter = new EventEmitter<OperationEndEvent>();
  closing = false;
  private attemptCounter = 0;

  constructor(
    readonly owner: object,
    options: SafeguardsOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.ambient =
      options.ambientStorage === false
        ? undefined
        : ((options.ambientStorage as AmbientStorage<AmbientStore> | undefined) ?? sharedAmbientStorage());
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 30_000;
    assertInteger('defaultTimeoutMs', this.defaultTimeoutMs, 1);
    this.queue = new ConnectionQueue(options.queue, this.clock);
    this.breakers = new BreakerRegistry(options.breakers, this.clock);
    this.rateLimiter = new RateLimiter(options.rateLimits, this.clock);
    this.retryOptions = resolveRetryOptions(options.retry);
    this.retryBudget = this.retryOptions.budget
      ? new RetryBudget(this.clock, this.retryOptions.budget)
      : undefined;
    this.healthOptions = resolveHealthOptions(options.health);
    this.errorLog = new ErrorLog(options.errorLogSize ?? 200);
    this.timers = new DueTimers(this.clock);
    this.windowTotal = new RollingCounter(this.clock, this.healthOptions.errorRateWindowMs, 30);
    this.windowFailed = new RollingCounter(this.clock, this.healthOptions.errorRateWindowMs, 30);
    const watched = options.degradation?.readOnlyWhenBreakerOpen ?? ['primary'];
    for (const name of watched) this.breakers.get(name);
    this.readOnly = new ReadOnlyMode(() => {
      for (const name of watched) {
        const state = this.breakers.get(name).state;
        if (state === BreakerState.OPEN || state === BreakerState.ISOLATED) return name;
      }
      return undefined;
    });
    this.startedAt = this.clock.now();
  }

  /** The store of this instance in the current async context, if any. */
  ownStore(): AmbientStore | undefined {
    const store = this.ambient?.getStore();
    return store !== undefined && store.owner === this.owner ? store : undefined;
  }

  run<T>(operation: Operation<T>, context: RunContext): Promise<T> {
    const store = this.ownStore();
    if (store === undefined) return this.runFresh(operation, context, undefined);
    const slot = store.slot;
    if (slot !== undefined) return this.runOn(slot, operation, context, store.inherited);
    return this.runFresh(operation, context, store.inherited);
  }

  /**
   * A call made on `scope`: a nested call on its slot while the scope still holds one (it waits for its
   * turn, see {@link SlotScope}), else an operation of its own with the caller's context.
   */
  runOn<T>(
    scope: SlotScope,
    operation: Operation<T>,
    context: RunContext,
    inherited: InheritedContext,
  ): Promise<T> {
    if (!scope.holdsSlot) return this.runFresh(operation, context, inherited);
    // Most nested calls (every query of a transaction) set no deadline of their own: they inherit the
    // scope's, which was checked when the scope started; once it passes, the scope's timer gives up
    // and the call is refused by that flag (see NestedCall), so it skips the clock read, a tenth of its
    // cost on some VMs. Any other deadline (its own, or a withContext block's) is checked now.
    const ownDeadline =
      context.deadline !== undefined ||
      context.timeoutMs !== undefined ||
      inherited.deadline !== scope.deadline;
    const now = ownDeadline ? this.clock.now() : undefined;
    let resolved: ResolvedContext;
    try {
      // Without an own deadline resolveContext never reads `now`: the inherited deadline applies.
      resolved = resolveContext(context, inherited, now ?? Number.NaN, this.defaultTimeoutMs);
    } catch (error) {
      return Promise.reject(error);
    }
    return new NestedCall(this, scope, operation, context, resolved).start(now);
  }

  private runFresh<T>(
    operation: Operation<T>,
    context: RunContext,
    inherited: InheritedContext | undefined,
  ): Promise<T> {
    const now = this.clock.now();
    let resolved: ResolvedContext;
    try {
      resolved = resolveContext(context, inherited, now, this.defaultTimeoutMs);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.startExecution(operation, context, resolved, now);
  }

  /** Starts an operation of its own: admission, a slot, attempts. */
  startExecution<T>(
    operation: Operation<T>,
    context: RunContext,
    resolved: ResolvedContext,
    now = this.clock.now(),
  ): Promise<T> {
    this.counts.started++;
    this.counts.inFlight++;
    return new Execution(this, operation, context, resolved, now).start();
  }

  withContext<R>(context: RunContext, callback: () => R): WithContextResult<R> {
    if (this.ambient === undefined) return startLazy(callback());
    const store = this.ownStore();
    const resolved = resolveContext(context, store?.inherited, this.clock.now(), this.defaultTimeoutMs);
    // The slot is looked up live when a call is made: the block may outlive the work holding it.
    // The outermost block is the request: blocks inside it share its progress.
    const inherited = toInherited(context, resolved);
    const child: AmbientStore = {
      owner: this.owner,
      inherited: inherited.progress ? inherited : { ...inherited, progress: { started: false } },
      slot: store?.slot,
    };
    return this.ambient.run(child, runAndStart, callback);
  }

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

  loadReading(): LoadReading {
    const queue = this.queue;
    const total = this.windowTotal.total();
    return {
      connectionUsage: queue.queued > 0 ? 100 : (queue.active / queue.options.maxConcurrentConnections) * 100,
      responseTime: this.durations.quantile(0.95),
      errorRate:
        total < this.healthOptions.errorRateMinimumOperations ? 0 : (this.windowFailed.total() / total) * 100,
    };
  }

  // ---- What executions report ----------------------------------------------------------------

  /**
   * Whether this attempt's duration should be measured. Reading the clock costs 70-80 ns on some
   * virtual machines, a tenth of the whole pipeline, so one attempt in four is timed: an unbiased
   * sample that keeps the latency percentiles of the last ~8 000 attempts.
   */
  shouldTimeAttempt(): boolean {
    this.attemptCounter = (this.attemptCounter + 1) & 3;
    return this.attemptCounter === 0;
  }

  recordSuccess(execution: ExecutionView): void {
    const counts = this.counts;
    counts.succeeded++;
    counts.inFlight--;
    if (execution.attempt > 1) counts.recovered++;
    this.windowTotal.add(1, execution.startTime);
    if (this.endEmitter.hasListeners) this.emitEnd(execution, undefined);
  }

  recordFailure(execution: ExecutionView, error: SafeguardError): void {
    this.counts.failed++;
    this.settleFailure(execution, error);
  }

  recordRejection(execution: ExecutionView, error: SafeguardError, stage: RejectionEvent['stage']): void {
    this.counts.rejected++;
    if (this.rejectionEmitter.hasListeners) {
      this.rejectionEmitter.emit({
        error,
        stage,
        priority: execution.context.priority,
        label: execution.context.label,
      });
    }
    this.settleFailure(execution, error);
  }

  recordRetry(execution: ExecutionView, error: SafeguardError, delayMs: number): void {
    this.counts.retries++;
    if (this.retryEmitter.hasListeners)
      this.retryEmitter.emit({ retry: execution.attempt, delayMs, error, label: execution.context.label });
  }

  private settleFailure(execution: ExecutionView, error: SafeguardError): void {
    this.counts.inFlight--;
    this.errorLog.record(error, execution.context.label);
    const now = this.clock.now();
    this.windowTotal.add(1, now);
    if (isSystemFailure(error)) this.windowFailed.add(1, now);
    if (this.endEmitter.hasListeners) this.emitEnd(execution, error);
  }

  private emitEnd(execution: ExecutionView, error: SafeguardError | undefined): void {
    this.endEmitter.emit({
      ok: error === undefined,
      error,
      priority: execution.context.priority,
      label: execution.context.label,
      totalMs: this.clock.now() - execution.startTime,
      attempts: execution.attempt,
    });
  }
}
