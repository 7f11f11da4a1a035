import type { BreakerPermit, CircuitBreaker } from '../breaker/circuit-breaker.js';
import { isCapacitySignal } from '../capacity/capacity-signal.js';
import { classifyError } from '../errors/classify-error.js';
import { callerAborted, deadlinePassed } from '../errors/refusals.js';
import type { SafeguardError } from '../errors/safeguard-error.js';
import { sleep } from '../internal/clock.js';
import { LazySignal } from '../internal/lazy-signal.js';
import type { RunContext } from '../operation-context.js';
import type { Lease } from '../queue/connection-queue.js';
import { backoffDelay } from '../retry/backoff.js';
import type { RetryOptions } from '../retry/retry-options.js';
import { type AdmissionOutcome, admission, Refusal } from './admission.js';
import { type AttemptOwner, AttemptScope } from './attempt-scope.js';
import { breakerVerdict, hadTimeToRun, isRetryAllowed } from './failure-policy.js';
import type { Operation, RefusalStage } from './operation.js';
import type { ExecutionView } from './operation-stats.js';
import type { PipelineParts } from './pipeline-parts.js';
import { type InheritedContext, type ResolvedContext, toInherited } from './resolved-context.js';
import type { SlotHost } from './slot-host.js';

/**
 * Backoff of a call the database refused as full: the usual one, but never above 1 s, so the call
 * asks again often enough to take a slot that frees up before its deadline.
 */
function capacityBackoff(options: RetryOptions): RetryOptions {
  return options.maxDelayMs <= 1000 ? options : { ...options, maxDelayMs: 1000 };
}

/**
 * One call of `run`, from admission to its last attempt, as a small state machine driven by callbacks
 * rather than `async`/`await`: on the common path (a free slot, an operation that succeeds) it costs
 * one promise of its own, one {@link AttemptScope} and one clock read (when `run` is called), plus a
 * second for the one attempt in four whose duration is timed.
 */
export class Execution<T> implements ExecutionView, AttemptOwner<T> {
  readonly promise: Promise<T>;
  attempt = 0;

  private resolvePromise!: (value: T) => void;
  private rejectPromise!: (error: SafeguardError) => void;
  private breaker: CircuitBreaker | undefined = undefined;
  private permit: BreakerPermit | undefined = undefined;
  private inheritedContext: InheritedContext | undefined = undefined;
  private lazySignal: LazySignal | undefined = undefined;
  /**
   * When the current attempt got its slot (epoch ms): a success is stamped with it, saving a clock
   * read on the fast path (a failure is stamped by the breaker when it happens).
   */
  private attemptStartedAt = 0;
  /** The error of the attempt being retried, while its backoff runs. */
  private lastError: SafeguardError | undefined = undefined;
  /** Attempts the database refused as full: retried apart from `maxAttempts` (see {@link attemptFailed}). */
  private capacityRetries = 0;

  constructor(
    private readonly host: SlotHost,
    private readonly parts: PipelineParts,
    readonly operation: Operation<T>,
    private readonly raw: RunContext,
    readonly context: ResolvedContext,
    private readonly startedAt: number,
  ) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolvePromise = resolve;
      this.rejectPromise = reject;
    });
  }

  /** The operation's signal (every attempt's scope hands out this one), created on first access. */
  get signal(): AbortSignal {
    this.lazySignal ??= new LazySignal();
    return this.lazySignal.signal;
  }

  /** Calls `listener` when the operation is given up (see `OperationScope.onAbort`). */
  onAbort(listener: (reason: unknown) => void): () => void {
    this.lazySignal ??= new LazySignal();
    return this.lazySignal.onAbort(listener);
  }

  get inherited(): InheritedContext {
    this.inheritedContext ??= toInherited(this.raw, this.context);
    return this.inheritedContext;
  }

  /** When `run` was called (epoch ms). */
  get startTime(): number {
    return this.startedAt;
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
    let outcome: AdmissionOutcome | Promise<AdmissionOutcome>;
    try {
      outcome = admission(this.parts, this.context, this.startedAt);
    } catch (error) {
      this.fail(classifyError(error));
      return;
    }
    if (outcome instanceof Promise) {
      outcome.then(
        (settled) => this.admitted(settled),
        (error) => this.fail(classifyError(error)),
      );
    } else {
      this.admitted(outcome);
    }
  }

  /**
   * Past admission: the request counts toward the retry budget's base, then its first attempt. When
   * no rate limit was charged, the clock read when `run` was called is still current.
   */
  private admitted(outcome: AdmissionOutcome): void {
    if (outcome instanceof Refusal) {
      this.refuse(outcome.error, outcome.stage);
      return;
    }
    this.breaker = this.parts.breakers.get(this.context.breaker);
    this.parts.retryBudget?.recordRequest(this.startedAt);
    this.nextAttempt(outcome === undefined ? this.startedAt : undefined);
  }

  // ---- Attempts -------------------------------------------------------------------------------

  /**
   * Starts an attempt: refused when its deadline has passed, then by the breaker, then a slot now or
   * a place in the queue. `now` when the caller has just read the clock.
   */
  private nextAttempt(now: number | undefined): void {
    const at = now ?? this.parts.clock.now();
    if (at >= this.context.deadline) {
      // A retry whose backoff ended late ends with the error it was retrying: that is what happened.
      if (this.lastError !== undefined) this.fail(this.lastError);
      else this.refuse(deadlinePassed(this.context.label), 'queue');
      return;
    }
    this.attempt++;
    const breaker = this.breaker!;
    const permit = breaker.tryAcquire();
    if (permit === undefined) {
      this.refuse(breaker.rejection(), 'breaker');
      return;
    }
    this.permit = permit;
    const lease = this.parts.queue.tryAcquire(this.context.priority, at);
    if (lease !== undefined) {
      this.runOperation(lease, at);
      return;
    }
    this.parts.queue
      .acquire(this.context.priority, {
        deadline: this.context.deadline,
        signal: this.context.signal,
        continuation: this.context.progress?.started === true,
      })
      .then(
        (granted) => {
          if (!breaker.isCurrent(permit)) {
            // The breaker changed state while this operation waited (it opened, or the half-open round
            // this probe belonged to ended): it is asked again, so nothing runs against an open one.
            breaker.release(permit);
            const fresh = breaker.tryAcquire();
            if (fresh === undefined) {
              granted.release('neutral');
              this.refuse(breaker.rejection(), 'breaker');
              return;
            }
            this.permit = fresh;
          }
          this.runOperation(granted, granted.acquiredAt);
        },
        (error: SafeguardError) => {
          breaker.release(permit);
          // A call the database refused as full that then ran out of time waiting for a slot under the
          // lowered limit ends with what kept it out: the database being full.
          if (this.lastError !== undefined && isCapacitySignal(this.lastError) && error.type === 'TIMEOUT') {
            this.fail(this.lastError);
          } else {
            this.refuse(error, 'queue');
          }
        },
      );
  }

  /**
   * The signal may have aborted after the slot was granted and before this runs (during an async
   * rate-limit check, or between the grant and its callback): then nothing runs.
   */
  private runOperation(lease: Lease, now: number): void {
    const signal = this.context.signal;
    if (signal?.aborted) {
      lease.release('neutral');
      this.breaker!.release(this.permit!);
      this.refuse(callerAborted(signal.reason), 'queue');
      return;
    }
    this.attemptStartedAt = now;
    const progress = this.context.progress;
    // The request has started: its later operations wait as continuations.
    if (progress !== undefined) progress.started = true;
    new AttemptScope(this.host, this, lease, this.attempt, now).start();
  }

  /** The current attempt's operation succeeded. */
  attemptSucceeded(value: T): void {
    this.breaker!.recordSuccess(this.permit!, this.attemptStartedAt);
    this.parts.adaptive?.succeeded(this.parts.clock.now());
    this.parts.stats.operationSucceeded(this);
    this.resolvePromise(value);
  }

  /** The current attempt's operation failed. */
  attemptFailedWith(error: unknown): void {
    this.attemptFailed(classifyError(error), false);
  }

  /** The current attempt's work on its slot has ended: one attempt in four is timed (see OperationStats). */
  releaseSlot(lease: Lease, succeeded: boolean, startedAt: number): void {
    const stats = this.parts.stats;
    if (!lease.isReleased && stats.shouldTimeAttempt())
      stats.attemptTimed(this.parts.clock.now() - startedAt);
    lease.release(succeeded ? 'success' : 'failure');
  }

  abandonSlotLater(lease: Lease, from?: number): void {
    this.parts.queue.abandonLater(lease, from);
  }

  /** The current attempt passed its deadline or was aborted while its operation ran. */
  attemptGaveUp(error: SafeguardError, timedOut: boolean): void {
    this.lazySignal ??= new LazySignal();
    this.lazySignal.abort(error);
    this.attemptFailed(error, timedOut);
  }

  private attemptFailed(error: SafeguardError, timedOut: boolean): void {
    const breaker = this.breaker!;
    const permit = this.permit!;
    const now = this.parts.clock.now();
    // A deadline that passed while this process shed load is the process being overloaded (its event
    // loop reads the database's answers late), not the database being unwell: it opens no breaker.
    const verdict = breakerVerdict(
      error,
      timedOut,
      hadTimeToRun(now - this.attemptStartedAt, this.context.deadline - this.startedAt) &&
        !this.parts.load.isShedding(now),
    );
    if (verdict === 'failure') breaker.recordFailure(permit);
    else if (verdict === 'success') breaker.recordSuccess(permit, this.attemptStartedAt);
    else breaker.release(permit);

    const parts = this.parts;
    if (!timedOut && isCapacitySignal(error)) {
      // The database is full: this process lowers its concurrency, and the call waits for a slot
      // under the new limit after a short backoff. Nothing was applied, so it is retried until its
      // deadline, apart from `maxAttempts` and the retry budget: the lowered limit is what paces
      // these retries, and a later real failure keeps its own retries.
      parts.adaptive?.refused(this.attemptStartedAt, parts.queue.active + 1, now);
      if (parts.retryOptions.maxAttempts > 1 && isRetryAllowed(error, this.context)) {
        this.capacityRetries++;
        const delayMs = backoffDelay(this.capacityRetries, capacityBackoff(parts.retryOptions), parts.random);
        if (now + delayMs < this.context.deadline) {
          parts.stats.retrying(this, error, delayMs);
          this.lastError = error;
          this.waitThenRetry(delayMs);
          return;
        }
      }
      this.fail(error);
      return;
    }
    // A timed-out or aborted attempt is never retried: its operation may still be running.
    if (
      !timedOut &&
      this.attempt - this.capacityRetries < parts.retryOptions.maxAttempts &&
      isRetryAllowed(error, this.context)
    ) {
      const delayMs = backoffDelay(this.attempt, parts.retryOptions, parts.random, error.retryAfterMs);
      if (parts.clock.now() + delayMs < this.context.deadline && (parts.retryBudget?.tryWithdraw() ?? true)) {
        parts.stats.retrying(this, error, delayMs);
        this.lastError = error;
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
    sleep(this.parts.clock, delayMs, signal, true).then(
      () => this.nextAttempt(undefined),
      () => this.fail(callerAborted(signal?.reason)),
    );
  }

  // ---- Endings --------------------------------------------------------------------------------

  /** Ends without running: refused by read-only mode, the rate limit, a breaker or the queue. */
  private refuse(error: SafeguardError, stage: RefusalStage): void {
    this.parts.stats.operationRefused(this, error, stage);
    this.rejectPromise(error);
  }

  /** Ends after running (or trying to): the last attempt's error. */
  private fail(error: SafeguardError): void {
    this.parts.stats.operationFailed(this, error);
    this.rejectPromise(error);
  }
}
