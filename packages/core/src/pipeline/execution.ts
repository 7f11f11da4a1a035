import type { BreakerPermit, CircuitBreaker } from '../breaker/circuit-breaker.js';
import { classifyError } from '../errors/classify-error.js';
import type { SafeguardError } from '../errors/safeguard-error.js';
import { sleep } from '../internal/clock.js';
import type { DueEntry } from '../internal/due-timers.js';
import type { RunContext } from '../operation-context.js';
import { Priority } from '../priority.js';
import type { Lease } from '../queue/connection-queue.js';
import type { RateLimitResult } from '../rate-limit/rate-limiter.js';
import { backoffDelay } from '../retry/backoff.js';
import { isInfrastructureFailure, isRetryAllowed } from './failure-policy.js';
import type { AmbientStore, ExecutionView, Operation, Pipeline } from './pipeline.js';
import { type InheritedContext, type ResolvedContext, toInherited } from './resolved-context.js';

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

/**
 * One call of `run`, from admission to its last attempt, as a small state machine driven by callbacks
 * rather than `async`/`await`: on the common path (a free slot, an operation that succeeds) it costs
 * one promise of its own and two clock reads. The object is also the operation's scope and the
 * ambient store its nested calls find, so one allocation serves all three roles.
 */
export class Execution<T> implements ExecutionView, AmbientStore, DueEntry {
  readonly promise: Promise<T>;
  readonly owner: object;
  attempt = 0;
  /** The slot of the current attempt. */
  lease: Lease | undefined = undefined;
  dueAt = 0;
  dueNext: DueEntry | undefined = undefined;
  duePrev: DueEntry | undefined = undefined;
  dueListed = false;

  private resolvePromise!: (value: T) => void;
  private rejectPromise!: (error: SafeguardError) => void;
  private breaker: CircuitBreaker | undefined = undefined;
  private permit: BreakerPermit | undefined = undefined;
  private attemptStartedAt = 0;
  /** The current attempt has been answered (its operation may still be running, see `giveUp`). */
  private attemptAnswered = true;
  private inheritedContext: InheritedContext | undefined = undefined;
  private controller: AbortController | undefined = undefined;
  private abortReason: unknown = undefined;
  private abortListener: (() => void) | undefined = undefined;
  private isAborted = false;

  constructor(
    private readonly pipeline: Pipeline,
    private readonly operation: Operation<T>,
    private readonly raw: RunContext,
    readonly context: ResolvedContext,
    private readonly startedAt: number,
  ) {
    this.owner = pipeline.owner;
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolvePromise = resolve;
      this.rejectPromise = reject;
    });
  }

  // ---- OperationScope -------------------------------------------------------------------------

  get deadline(): number {
    return this.context.deadline;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.isAborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  remainingMs(): number {
    return Math.max(0, this.context.deadline - this.pipeline.clock.now());
  }

  run<R>(operation: Operation<R>): Promise<R> {
    return this.pipeline.runOnScope(this, operation);
  }

  // ---- AmbientStore ---------------------------------------------------------------------------

  get heldScope(): ExecutionView | undefined {
    return this.lease !== undefined && !this.lease.isReleased ? this : undefined;
  }

  get inherited(): InheritedContext {
    this.inheritedContext ??= toInherited(this.raw, this.context);
    return this.inheritedContext;
  }

  // ---- Admission ------------------------------------------------------------------------------

  /** Runs the admission checks, then the first attempt. Returns the promise the caller awaits. */
  start(): Promise<T> {
    this.admit();
    return this.promise;
  }

  /**
   * The endings below return nothing on purpose: a handler passed to `.then` that returned the
   * caller's (rejected) promise would make the derived promise reject unhandled.
   */
  private admit(): void {
    const pipeline = this.pipeline;
    const context = this.context;
    const refusal = this.refusalBeforeRateLimit();
    if (refusal !== undefined) {
      this.refuse(refusal.error, refusal.stage);
      return;
    }
    this.breaker = pipeline.breakers.get(context.breaker);
    if (context.policy === undefined || context.priority === Priority.CRITICAL) {
      this.admitted(this.startedAt);
      return;
    }
    let pending: RateLimitResult | Promise<RateLimitResult>;
    try {
      pending = pipeline.checkRateLimit(context, this.startedAt);
    } catch (error) {
      this.fail(classifyError(error));
      return;
    }
    if (pending instanceof Promise) {
      pending.then(
        (result) => this.afterRateLimit(result),
        (error) => this.fail(classifyError(error)),
      );
    } else {
      this.afterRateLimit(pending);
    }
  }

  /** A closed pipeline, an already-aborted signal or read-only mode refuse before anything is charged. */
  private refusalBeforeRateLimit(): { error: SafeguardError; stage: 'read-only' | 'queue' } | undefined {
    const pipeline = this.pipeline;
    const context = this.context;
    if (pipeline.closing) return { error: pipeline.closedError(), stage: 'queue' };
    if (context.signal?.aborted) return { error: pipeline.abortError(context.signal.reason), stage: 'queue' };
    if (context.isWrite) {
      const readOnly = pipeline.readOnlyRefusal();
      if (readOnly) return { error: readOnly, stage: 'read-only' };
    }
    return undefined;
  }

  private afterRateLimit(result: RateLimitResult): void {
    if (result.allowed) this.admitted(undefined);
    else this.refuse(this.pipeline.rateLimitError(result), 'rate-limit');
  }

  /** Past the rate limit: the request counts toward the retry budget's base, then its first attempt. */
  private admitted(now: number | undefined): void {
    this.pipeline.retryBudget?.recordRequest(this.startedAt);
    this.nextAttempt(now);
  }

  // ---- Attempts -------------------------------------------------------------------------------

  private nextAttempt(now: number | undefined): void {
    this.attempt++;
    const breaker = this.breaker!;
    const permit = breaker.tryAcquire();
    if (permit === undefined) {
      this.refuse(breaker.rejection(), 'breaker');
      return;
    }
    this.permit = permit;
    const lease = this.pipeline.queue.tryAcquire(this.context.priority, now);
    if (lease !== undefined) {
      this.runOperation(lease, now ?? lease.acquiredAt);
      return;
    }
    this.pipeline.queue
      .acquire(this.context.priority, { deadline: this.context.deadline, signal: this.context.signal })
      .then(
        (granted) => {
          if (!permit.probe && breaker.state !== 'CLOSED') {
            // The breaker opened while this operation waited: do not touch the database after all.
            granted.release('success');
            breaker.release(permit);
            this.refuse(breaker.rejection(), 'breaker');
            return;
          }
          this.runOperation(granted, granted.acquiredAt);
        },
        (error: SafeguardError) => {
          breaker.release(permit);
          this.refuse(error, 'queue');
        },
      );
  }

  private runOperation(lease: Lease, now: number): void {
    this.lease = lease;
    this.attemptAnswered = false;
    this.attemptStartedAt = now;
    const ambient = this.pipeline.ambient;
    let result: T | PromiseLike<T>;
    try {
      result = ambient === undefined ? this.operation(this) : ambient.run(this, this.operation, this);
    } catch (error) {
      this.onError(error);
      return;
    }
    if (!isThenable(result)) {
      this.onValue(result);
      return;
    }
    const context = this.context;
    if (context.deadline !== Number.POSITIVE_INFINITY) {
      this.dueAt = context.deadline;
      this.pipeline.timers.add(this);
    }
    if (context.signal !== undefined) {
      this.abortListener = () => this.giveUp(this.pipeline.abortError(context.signal?.reason), false);
      context.signal.addEventListener('abort', this.abortListener, { once: true });
    }
    result.then(this.onValue, this.onError);
  }

  /** The deadline passed while the operation ran. */
  onDue(): void {
    this.giveUp(this.pipeline.deadlineError(this.context), true);
  }

  /**
   * Answers the caller now, while the operation may still run: its slot stays taken until it really
   * ends (its connection is busy), or until the queue reclaims the slot as abandoned.
   */
  private giveUp(error: SafeguardError, timedOut: boolean): void {
    if (this.attemptAnswered) return;
    this.attemptAnswered = true;
    this.detachWatchers();
    this.abortScope(error);
    if (this.lease) this.pipeline.queue.abandonLater(this.lease);
    this.attemptFailed(error, timedOut);
  }

  private readonly onValue = (value: T): void => {
    this.releaseLease(true);
    if (this.attemptAnswered) return;
    this.attemptAnswered = true;
    this.detachWatchers();
    this.breaker!.recordSuccess(this.permit!);
    this.pipeline.recordSuccess(this);
    this.resolvePromise(value);
  };

  private readonly onError = (error: unknown): void => {
    this.releaseLease(false);
    if (this.attemptAnswered) return;
    this.attemptAnswered = true;
    this.detachWatchers();
    this.attemptFailed(classifyError(error), false);
  };

  private releaseLease(ok: boolean): void {
    const lease = this.lease;
    if (lease === undefined || lease.isReleased) return;
    const pipeline = this.pipeline;
    if (pipeline.shouldTimeAttempt()) pipeline.durations.record(pipeline.clock.now() - this.attemptStartedAt);
    lease.release(ok ? 'success' : 'failure');
  }

  private detachWatchers(): void {
    if (this.dueListed) this.pipeline.timers.delete(this);
    if (this.abortListener !== undefined) {
      this.context.signal?.removeEventListener('abort', this.abortListener);
      this.abortListener = undefined;
    }
  }

  private attemptFailed(error: SafeguardError, timedOut: boolean): void {
    const breaker = this.breaker!;
    const permit = this.permit!;
    if (timedOut || isInfrastructureFailure(error)) breaker.recordFailure(permit);
    else if (error.reason === 'aborted') breaker.release(permit);
    else breaker.recordSuccess(permit);

    // A timed-out or aborted attempt is never retried: its operation may still be running.
    const pipeline = this.pipeline;
    if (
      !timedOut &&
      this.attempt < pipeline.retryOptions.maxAttempts &&
      isRetryAllowed(error, this.context)
    ) {
      const delayMs = backoffDelay(this.attempt, pipeline.retryOptions, pipeline.random, error.retryAfterMs);
      if (
        pipeline.clock.now() + delayMs < this.context.deadline &&
        (pipeline.retryBudget?.tryWithdraw() ?? true)
      ) {
        pipeline.recordRetry(this, error, delayMs);
        this.waitThenRetry(delayMs);
        return;
      }
    }
    this.fail(error);
  }

  /**
   * Waits without holding a slot; an abort before or during the wait ends the operation. The wait
   * keeps the process alive: the caller is awaiting it, and often nothing else runs meanwhile (a
   * script, a cron job), so an unref'd timer would let the process exit with the operation unsettled.
   */
  private waitThenRetry(delayMs: number): void {
    const signal = this.context.signal;
    sleep(this.pipeline.clock, delayMs, signal, true).then(
      () => this.nextAttempt(undefined),
      () => this.fail(this.pipeline.abortError(signal?.reason)),
    );
  }

  private abortScope(reason: unknown): void {
    if (this.isAborted) return;
    this.isAborted = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }

  // ---- Endings --------------------------------------------------------------------------------

  /** Ends without running: refused by read-only mode, the rate limit, a breaker or the queue. */
  private refuse(error: SafeguardError, stage: 'read-only' | 'rate-limit' | 'breaker' | 'queue'): void {
    this.pipeline.recordRejection(this, error, stage);
    this.rejectPromise(error);
  }

  /** Ends after running (or trying to): the last attempt's error. */
  private fail(error: SafeguardError): void {
    this.pipeline.recordFailure(this, error);
    this.rejectPromise(error);
  }

  /** When `run` was called (epoch ms). */
  get startTime(): number {
    return this.startedAt;
  }
}
