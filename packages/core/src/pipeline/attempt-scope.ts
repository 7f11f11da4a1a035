import type { SafeguardError } from '../errors/safeguard-error.js';
import type { DueEntry } from '../internal/due-timers.js';
import { isThenable } from '../internal/is-thenable.js';
import type { Lease } from '../queue/connection-queue.js';
import type { Execution } from './execution.js';
import type { Pipeline } from './pipeline.js';
import type { InheritedContext, ResolvedContext } from './resolved-context.js';
import { SlotScope } from './slot-scope.js';

function invokeAttempt(scope: { invoke(): void }): void {
  scope.invoke();
}

/**
 * One attempt of an operation on the slot it holds: the scope the operation receives, the ambient
 * store its nested calls find, and the watcher of its deadline and signal. A fresh one per attempt,
 * so work left over from a failed attempt never runs on the next attempt's slot.
 */
export class AttemptScope<T> extends SlotScope implements DueEntry {
  dueAt = 0;
  dueNext: DueEntry | undefined = undefined;
  duePrev: DueEntry | undefined = undefined;
  dueListed = false;
  /** The execution has this attempt's outcome (its operation may still run after a timeout). */
  private answered = false;
  private succeeded = false;
  private abortListener: (() => void) | undefined = undefined;

  constructor(
    pipeline: Pipeline,
    private readonly execution: Execution<T>,
    readonly lease: Lease,
    readonly attempt: number,
    private readonly startedAt: number,
  ) {
    super(pipeline);
  }

  get context(): ResolvedContext {
    return this.execution.context;
  }

  get signal(): AbortSignal {
    return this.execution.signal;
  }

  get inherited(): InheritedContext {
    return this.execution.inherited;
  }

  get holdsSlot(): boolean {
    return !this.operationEnded && !this.lease.isReleased;
  }

  protected get parentScope(): undefined {
    return undefined;
  }

  /** Runs the operation with this scope as the ambient store (a lazy thenable is started in it too). */
  start(): void {
    const ambient = this.pipeline.ambient;
    if (ambient === undefined) this.invoke();
    else ambient.run(this, invokeAttempt, this);
  }

  /** @internal */
  invoke(): void {
    let result: T | PromiseLike<T>;
    try {
      result = this.execution.operation(this);
    } catch (error) {
      this.onError(error);
      return;
    }
    if (!isThenable(result)) {
      this.onValue(result);
      return;
    }
    const context = this.context;
    this.dueAt = context.deadline;
    this.pipeline.timers.add(this);
    const signal = context.signal;
    if (signal !== undefined) {
      this.abortListener = () => this.giveUp(this.pipeline.abortError(signal.reason), false);
      signal.addEventListener('abort', this.abortListener, { once: true });
    }
    result.then(this.onValue, this.onError);
  }

  /** The deadline passed while the operation ran. */
  onDue(): void {
    this.giveUp(this.pipeline.deadlineError(this.context), true);
  }

  protected finished(): void {
    const lease = this.lease;
    const pipeline = this.pipeline;
    if (!lease.isReleased && pipeline.shouldTimeAttempt()) {
      pipeline.durations.record(pipeline.clock.now() - this.startedAt);
    }
    lease.release(this.succeeded ? 'success' : 'failure');
  }

  /**
   * Answers now, while the operation may still run: its slot stays taken until it really ends (its
   * connection is busy), or until the queue reclaims the slot as abandoned.
   */
  private giveUp(error: SafeguardError, timedOut: boolean): void {
    if (this.answered) return;
    this.answered = true;
    this.gaveUpWith = error;
    this.detachWatchers();
    this.pipeline.queue.abandonLater(this.lease);
    this.execution.attemptGaveUp(error, timedOut);
  }

  private readonly onValue = (value: T): void => {
    this.succeeded = true;
    this.operationSettled();
    if (this.answered) return;
    this.answered = true;
    this.detachWatchers();
    this.execution.attemptSucceeded(value);
  };

  private readonly onError = (error: unknown): void => {
    this.operationSettled();
    if (this.answered) return;
    this.answered = true;
    this.detachWatchers();
    this.execution.attemptFailedWith(error);
  };

  /**
   * The slot goes back now, or once the nested call still running on it ends (an operation can settle
   * before work it started, e.g. when `Promise.all` rejects early). Such a tail is bounded like a hung
   * operation: reclaimed `abandonAfterMs` after the deadline.
   */
  private operationSettled(): void {
    this.endOperation();
    if (this.hasRunningCall) {
      this.pipeline.queue.abandonLater(
        this.lease,
        Math.max(this.pipeline.clock.now(), this.context.deadline),
      );
    }
  }

  private detachWatchers(): void {
    if (this.dueListed) this.pipeline.timers.delete(this);
    if (this.abortListener !== undefined) {
      this.context.signal?.removeEventListener('abort', this.abortListener);
      this.abortListener = undefined;
    }
  }
}
