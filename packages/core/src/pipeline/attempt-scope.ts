import type { SafeguardError } from '../errors/safeguard-error.js';
import type { Lease } from '../queue/connection-queue.js';
import type { Operation } from './operation.js';
import type { InheritedContext, ResolvedContext } from './resolved-context.js';
import type { SlotHost } from './slot-host.js';
import { SlotScope } from './slot-scope.js';

/** What an attempt answers to and reports its slot to: the operation it is an attempt of (`Execution`). */
export interface AttemptOwner<T> {
  readonly operation: Operation<T>;
  readonly context: ResolvedContext;
  /** The operation's signal (every attempt's scope hands out this one). */
  readonly signal: AbortSignal;
  /** Calls `listener` when the operation is given up. */
  onAbort(listener: (reason: unknown) => void): () => void;
  readonly inherited: InheritedContext;
  /** The attempt's operation succeeded. */
  attemptSucceeded(value: T): void;
  /** The attempt's operation failed. */
  attemptFailedWith(error: unknown): void;
  /** The attempt passed its deadline or was aborted while its operation ran. */
  attemptGaveUp(error: SafeguardError, timedOut: boolean): void;
  /** The work on the slot has ended (`startedAt`: when the attempt got it): it goes back to the queue. */
  releaseSlot(lease: Lease, succeeded: boolean, startedAt: number): void;
  /** The slot is kept by work still running on it: reclaim it if that has not ended in time. */
  abandonSlotLater(lease: Lease, from?: number): void;
}

/**
 * One attempt of an operation on the slot it holds: the scope the operation receives, the ambient
 * store its nested calls find, and the watcher of its deadline and signal. A fresh one per attempt,
 * so work left over from a failed attempt never runs on the next attempt's slot.
 */
export class AttemptScope<T> extends SlotScope<T> {
  private succeeded = false;

  constructor(
    host: SlotHost,
    private readonly execution: AttemptOwner<T>,
    readonly lease: Lease,
    readonly attempt: number,
    private readonly startedAt: number,
  ) {
    super(host, execution.operation);
  }

  get context(): ResolvedContext {
    return this.execution.context;
  }

  get signal(): AbortSignal {
    return this.execution.signal;
  }

  onAbort(listener: (reason: unknown) => void): () => void {
    return this.execution.onAbort(listener);
  }

  get inherited(): InheritedContext {
    return this.execution.inherited;
  }

  get holdsSlot(): boolean {
    return !this.operationEnded && !this.lease.isReleased;
  }

  get parentSlot(): undefined {
    return undefined;
  }

  /** Runs the operation on the slot. */
  start(): void {
    this.startOperation();
  }

  protected finished(): void {
    this.execution.releaseSlot(this.lease, this.succeeded, this.startedAt);
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
    this.execution.abandonSlotLater(this.lease);
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
      this.execution.abandonSlotLater(this.lease, Math.max(this.host.clock.now(), this.context.deadline));
    }
  }
}
