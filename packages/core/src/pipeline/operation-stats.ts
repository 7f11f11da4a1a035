import type { SafeguardError } from '../errors/safeguard-error.js';
import type { ErrorLog } from '../health/error-log.js';
import type { Clock } from '../internal/clock.js';
import { type Event, EventEmitter } from '../internal/events.js';
import { RollingCounter } from '../internal/rolling-counter.js';
import { type Percentiles, SampleWindow } from '../internal/sample-window.js';
import { isSystemFailure } from './failure-policy.js';
import type { OperationEndEvent, RefusalStage, RejectionEvent, RetryEvent } from './operation.js';
import type { ResolvedContext } from './resolved-context.js';

/** What the counters need to know of a running operation (an `Execution`), whatever its result type. */
export interface ExecutionView {
  /** 1 for the first attempt, 2 for the first retry, ... (0 when refused before the first). */
  readonly attempt: number;
  /** When `run` was called (epoch ms). */
  readonly startTime: number;
  readonly context: ResolvedContext;
}

/** A snapshot of the operation counters (see `SafeguardsMetrics.operations`). */
export interface OperationCounts {
  started: number;
  succeeded: number;
  failed: number;
  rejected: number;
  inFlight: number;
  retries: number;
  recovered: number;
}

/**
 * What a `Safeguards` instance counts of its operations, behind one method per thing that happens to
 * an operation: the counters, the duration sample, the error-rate window of the health report, the
 * error log, and the events `onRetry`, `onRejection` and `onOperationEnd`.
 */
export class OperationStats {
  private started = 0;
  private succeeded = 0;
  private failed = 0;
  private rejected = 0;
  private inFlight = 0;
  private retries = 0;
  private recovered = 0;
  private attemptCounter = 0;
  private readonly durations = new SampleWindow(2048);
  private readonly windowTotal: RollingCounter;
  private readonly windowFailed: RollingCounter;
  private readonly retryEmitter = new EventEmitter<RetryEvent>();
  private readonly rejectionEmitter = new EventEmitter<RejectionEvent>();
  private readonly endEmitter = new EventEmitter<OperationEndEvent>();
  /** A failed attempt is about to be retried. */
  readonly onRetry: Event<RetryEvent> = this.retryEmitter.event;
  /** A call was refused before it ran. */
  readonly onRejection: Event<RejectionEvent> = this.rejectionEmitter.event;
  /** An operation settled. */
  readonly onOperationEnd: Event<OperationEndEvent> = this.endEmitter.event;

  constructor(
    private readonly clock: Clock,
    private readonly errorLog: ErrorLog,
    errorRateWindowMs: number,
  ) {
    this.windowTotal = new RollingCounter(clock, errorRateWindowMs, 30);
    this.windowFailed = new RollingCounter(clock, errorRateWindowMs, 30);
  }

  /** An operation of its own starts (admission, a slot, attempts). */
  operationStarted(): void {
    this.started++;
    this.inFlight++;
  }

  operationSucceeded(execution: ExecutionView): void {
    this.succeeded++;
    this.inFlight--;
    if (execution.attempt > 1) this.recovered++;
    this.windowTotal.add(1, execution.startTime);
    if (this.endEmitter.hasListeners) this.emitEnd(execution, undefined);
  }

  operationFailed(execution: ExecutionView, error: SafeguardError): void {
    this.failed++;
    this.settleFailure(execution, error);
  }

  /**
   * An operation was refused before it ran (`stage` of the composition order). A refusal is the
   * safeguards working, not a failure: it stays out of the health window's error rate (which also
   * drives adaptive limits) and goes to the error log's refusal bursts, so one client's flood can
   * neither mark the app unhealthy nor tighten the limits of everyone else.
   */
  operationRefused(execution: ExecutionView, error: SafeguardError, stage: RefusalStage): void {
    this.rejected++;
    this.inFlight--;
    if (this.rejectionEmitter.hasListeners) this.emitRejection(error, stage, execution.context);
    this.errorLog.recordRefusal(error, execution.context.label, this.clock.now());
    if (this.endEmitter.hasListeners) this.emitEnd(execution, error);
  }

  /** A request was refused by `Safeguards.admit`: no operation had started, so only the refusal counts. */
  requestRefused(error: SafeguardError, stage: RefusalStage, context: ResolvedContext): void {
    this.rejected++;
    if (this.rejectionEmitter.hasListeners) this.emitRejection(error, stage, context);
    this.errorLog.recordRefusal(error, context.label, this.clock.now());
  }

  retrying(execution: ExecutionView, error: SafeguardError, delayMs: number): void {
    this.retries++;
    if (this.retryEmitter.hasListeners)
      this.retryEmitter.emit({ retry: execution.attempt, delayMs, error, label: execution.context.label });
  }

  /**
   * Whether this attempt's duration should be measured. Reading the clock costs 70-80 ns on some
   * virtual machines, a tenth of the whole pipeline, so one attempt in four is timed: an unbiased
   * sample that keeps the latency percentiles of the last ~8 000 attempts.
   */
  shouldTimeAttempt(): boolean {
    this.attemptCounter = (this.attemptCounter + 1) & 3;
    return this.attemptCounter === 0;
  }

  /** How long an attempt held its slot, for the latency percentiles. */
  attemptTimed(durationMs: number): void {
    this.durations.record(durationMs);
  }

  counts(): OperationCounts {
    return {
      started: this.started,
      succeeded: this.succeeded,
      failed: this.failed,
      rejected: this.rejected,
      inFlight: this.inFlight,
      retries: this.retries,
      recovered: this.recovered,
    };
  }

  /** Time spent running (not waiting), recent attempts. */
  durationPercentiles(): Percentiles {
    return this.durations.percentiles();
  }

  durationQuantile(q: number): number {
    return this.durations.quantile(q);
  }

  /** Operations finished within the health window, and how many of them failed for a system reason. */
  window(): { total: number; failed: number } {
    return { total: this.windowTotal.total(), failed: this.windowFailed.total() };
  }

  private settleFailure(execution: ExecutionView, error: SafeguardError): void {
    this.inFlight--;
    this.errorLog.record(error, execution.context.label);
    const now = this.clock.now();
    this.windowTotal.add(1, now);
    if (isSystemFailure(error)) this.windowFailed.add(1, now);
    if (this.endEmitter.hasListeners) this.emitEnd(execution, error);
  }

  private emitRejection(error: SafeguardError, stage: RefusalStage, context: ResolvedContext): void {
    this.rejectionEmitter.emit({ error, stage, priority: context.priority, label: context.label });
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
