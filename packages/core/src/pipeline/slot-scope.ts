import { callerAborted, deadlinePassed } from '../errors/refusals.js';
import type { SafeguardError } from '../errors/safeguard-error.js';
import type { DueEntry } from '../internal/due-timers.js';
import { isThenable } from '../internal/is-thenable.js';
import type { RunContext } from '../operation-context.js';
import type { Operation } from './operation.js';
import type { InheritedContext, ResolvedContext } from './resolved-context.js';
import type { AmbientStore, HeldSlot, SlotHost, WaitingCall } from './slot-host.js';

const noContext: RunContext = Object.freeze({});

function invokeOperation(scope: SlotScope): void {
  scope.invoke();
}

/** Whether `slot` is a nested call on `ancestor`, directly or through other nested calls. */
function descendsFrom(slot: HeldSlot, ancestor: HeldSlot): boolean {
  for (let parent = slot.parentSlot; parent !== undefined; parent = parent.parentSlot) {
    if (parent === ancestor) return true;
  }
  return false;
}

/**
 * Work running on one held slot: an attempt of an operation (`AttemptScope`) or a call nested in
 * it (`NestedCall`), which is a scope in turn. A slot stands for ONE connection, so the nested
 * calls made on a scope take turns, first come first served; a call made inside a running nested call
 * is that call's child and waits only for its own siblings, never for its parent. At every level at
 * most one child runs, so at most one leaf of the tree runs at a time.
 *
 * A scope is finished when its own operation has settled and the nested call running on it (if any)
 * has ended; calls still waiting when its operation settles run as operations of their own.
 *
 * Both kinds run their operation, and watch their deadline and signal, the same way (here); they
 * differ in whom they answer (an `Execution`, or the caller of a nested `run`) and in when they start
 * watching (an attempt once its operation turns out to be asynchronous, a nested call from the moment
 * it is made, since it may wait for its turn).
 */
export abstract class SlotScope<T = unknown> implements HeldSlot, AmbientStore, DueEntry {
  dueAt = 0;
  dueNext: DueEntry | undefined = undefined;
  duePrev: DueEntry | undefined = undefined;
  dueListed = false;
  /** This scope's own operation has settled. */
  protected operationEnded = false;
  /** The caller has its answer: the operation's outcome, a refusal, a timeout or an abort. */
  protected answered = false;
  /**
   * The error this scope answered its caller with at its deadline or an abort, while its operation
   * may still run on the slot.
   */
  protected gaveUpWith: SafeguardError | undefined = undefined;
  private abortListener: (() => void) | undefined = undefined;
  private turnTaken = false;
  private lineHead: WaitingCall | undefined = undefined;
  private lineTail: WaitingCall | undefined = undefined;
  private draining = false;
  private turnEndedWhileDraining = false;
  private isFinished = false;

  constructor(
    protected readonly host: SlotHost,
    protected readonly operation: Operation<T>,
  ) {}

  abstract get context(): ResolvedContext;
  abstract get attempt(): number;
  abstract get signal(): AbortSignal;
  abstract onAbort(listener: (reason: unknown) => void): () => void;
  abstract get inherited(): InheritedContext;
  /** True while this scope's operation runs on a slot its attempt still holds. Read live, never cached. */
  abstract get holdsSlot(): boolean;
  /** The scope this one is a nested call on; undefined for an attempt (the root of the tree). */
  abstract get parentSlot(): HeldSlot | undefined;
  /** Called once, when this scope's operation and the nested call running on it have both ended. */
  protected abstract finished(): void;
  /** The operation returned a thenable: it runs on (an attempt starts watching here). */
  protected abstract operationPending(): void;
  /** The operation returned or resolved `value`. */
  protected abstract operationSucceeded(value: T): void;
  /** The operation threw or rejected. */
  protected abstract operationFailed(error: unknown): void;
  /** Answered at the deadline or an abort (`timedOut`: the deadline), while the operation may run on. */
  protected abstract gaveUp(error: SafeguardError, timedOut: boolean): void;

  get owner(): object {
    return this.host.owner;
  }

  get slot(): HeldSlot {
    return this;
  }

  get deadline(): number {
    return this.context.deadline;
  }

  remainingMs(): number {
    return Math.max(0, this.context.deadline - this.host.clock.now());
  }

  /**
   * Called from inside a nested call running on this scope (at any depth), the work is that call's
   * child: lined up on this scope it would wait for the very call that waits for it, a deadlock until
   * the deadline. Only the ambient storage can tell where the caller is; without it, pass the scope
   * your operation was handed.
   */
  run<R>(operation: Operation<R>): Promise<R> {
    // A caller inside a running nested call on this scope means one of its calls holds the turn, so
    // the ambient store is looked up only then.
    if (this.turnTaken) {
      const store = this.host.ownStore();
      const inner = store?.slot;
      if (inner !== undefined && inner !== this && inner.holdsSlot && descendsFrom(inner, this)) {
        return this.host.runOn(inner, operation, noContext, store!.inherited);
      }
    }
    return this.host.runOn(this, operation, noContext, this.inherited);
  }

  /**
   * The error this scope, or one it is nested in, has answered its caller with while its operation
   * still runs: work started on it now comes too late (its caller has its answer).
   */
  givenUpWith(): SafeguardError | undefined {
    return this.gaveUpWith ?? this.parentSlot?.givenUpWith();
  }

  /** The deadline passed while this scope was watched. */
  onDue(): void {
    this.giveUp(deadlinePassed(this.context.label), true);
  }

  /** @internal Runs the operation (through {@link startOperation}). */
  invoke(): void {
    let result: T | PromiseLike<T>;
    try {
      result = this.operation(this);
    } catch (error) {
      this.operationFailed(error);
      return;
    }
    if (!isThenable(result)) {
      this.operationSucceeded(result);
      return;
    }
    this.operationPending();
    result.then(
      (value) => this.operationSucceeded(value),
      (error: unknown) => this.operationFailed(error),
    );
  }

  /** Runs the operation with this scope as the ambient store (a lazy thenable is started in it too). */
  protected startOperation(): void {
    const ambient = this.host.ambient;
    if (ambient === undefined) this.invoke();
    else ambient.run(this, invokeOperation, this);
  }

  /** Watches the deadline and the context's signal: either answers the caller with TIMEOUT. */
  protected watch(): void {
    const context = this.context;
    this.dueAt = context.deadline;
    this.host.timers.add(this);
    const signal = context.signal;
    if (signal !== undefined) {
      this.abortListener = () => this.giveUp(callerAborted(signal.reason), false);
      signal.addEventListener('abort', this.abortListener, { once: true });
    }
  }

  /** Marks the caller as answered and stops watching; false when it already had its answer. */
  protected answer(): boolean {
    if (this.answered) return false;
    this.answered = true;
    if (this.dueListed) this.host.timers.delete(this);
    if (this.abortListener !== undefined) {
      this.context.signal?.removeEventListener('abort', this.abortListener);
      this.abortListener = undefined;
    }
    return true;
  }

  private giveUp(error: SafeguardError, timedOut: boolean): void {
    if (!this.answer()) return;
    this.gaveUpWith = error;
    this.gaveUp(error, timedOut);
  }

  /** Whether a nested call runs on this scope right now. */
  protected get hasRunningCall(): boolean {
    return this.turnTaken;
  }

  /** Runs `call` now if no other nested call runs on this scope, else lines it up. */
  enter(call: WaitingCall): void {
    if (!this.turnTaken) {
      this.turnTaken = true;
      call.takeTurn();
      return;
    }
    if (this.lineTail === undefined) this.lineHead = call;
    else this.lineTail.nextInLine = call;
    this.lineTail = call;
    call.linedUp();
  }

  /**
   * The nested call running on this scope has ended, with all the work on it: the next in
   * line takes its turn. A loop rather than recursion, so a long line of calls that end synchronously
   * cannot overflow the stack.
   */
  turnEnded(): void {
    if (this.draining) {
      this.turnEndedWhileDraining = true;
      return;
    }
    this.draining = true;
    do {
      this.turnEndedWhileDraining = false;
      const next = this.holdsSlot ? this.shiftLine() : undefined;
      if (next === undefined) {
        this.turnTaken = false;
        break;
      }
      next.takeTurn();
    } while (this.turnEndedWhileDraining);
    this.draining = false;
    if (!this.turnTaken) {
      this.releaseLine();
      if (this.operationEnded) this.finish();
    }
  }

  /** This scope's operation settled: it is finished now or when its running nested call ends. */
  protected endOperation(): void {
    this.operationEnded = true;
    if (!this.turnTaken) this.finish();
    this.releaseLine();
  }

  /** Calls waiting on a scope that no longer holds a slot run as operations of their own. */
  private releaseLine(): void {
    for (let call = this.shiftLine(); call !== undefined; call = this.shiftLine()) call.runWithoutSlot();
  }

  private shiftLine(): WaitingCall | undefined {
    for (let call = this.lineHead; call !== undefined; call = this.lineHead) {
      this.lineHead = call.nextInLine;
      call.nextInLine = undefined;
      if (this.lineHead === undefined) this.lineTail = undefined;
      if (!call.hasLeft) return call;
    }
    return undefined;
  }

  private finish(): void {
    if (this.isFinished) return;
    this.isFinished = true;
    this.finished();
  }
}
