import type { SafeguardError } from '../errors/safeguard-error.js';
import type { Lease } from '../queue/connection-queue.js';
import type { Execution } from './execution.js';
import type { Pipeline } from './pipeline.js';
import type { InheritedContext, ResolvedContext } from './resolved-context.js';
import { SlotScope } from './slot-scope.js';

/**
 * One attempt of an operation on the slot it holds: the scope the operation receives, the ambient
 * store its nested calls find, and the watcher of its deadline and signal. A fresh one per attempt,
 * so work left over from a failed attempt never runs on the next attempt's slot.
 */
export class AttemptScope<T> extends SlotScope<T> {
  private succeeded = false;

  constructor(
    pipeline: Pipeline,
    private readonly execution: Execution<T>,
    readonly lease: Lease,
    readonly attempt: number,
    private readonly startedAt: number,
  ) {
    super(pipeline, execution.operation);
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

  /** Runs the operation on the slot. */
  start(): void {
    this.startOperation();
  }

  protected finished(): void {
    const lease = this.lease;
    const pipeline = this.pipeline;
    if (!lease.isReleased && pipeline.shouldTimeAttempt()) {
      pipeline.durations.record(pipeline.clock.now() - this.startedAt);
    }
    lease.release(this.succeeded ? 'success' : 'failure');
  }

  /** A synchronous operation needs no watching: only one still running can pass its deadline. */
  protected operationPending(): void {
    this.watch();
  }

  protected operationSucceeded(value: T): void {
    this.succeeded = true;
    this.operationSettled();
    if (this.answer()) this.execution.attemptSucceeded(value);
  }

  protected operationFailed(error: unknown): void {
    this.operationSettled();
    if (this.answer()) this.execution.attemptFailedWith(error);
  }

  /**
   * Answers now, while the operation may still run: its slot stays taken until it really ends (its
   * connection is busy), or until the queue reclaims the slot as abandoned.
   */
  protected gaveUp(error: SafeguardError, timedOut: boolean): void {
    this.pipeline.queue.abandonLater(this.lease);
    this.execution.attemptGaveUp(error, timedOut);
  }

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
}
