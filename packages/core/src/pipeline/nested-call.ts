import { classifyError } from '../errors/classify-error.js';
import { callerAborted, deadlinePassed } from '../errors/refusals.js';
import type { SafeguardError } from '../errors/safeguard-error.js';
import { type AsyncContextSnapshot, snapshotAsyncContext } from '../internal/ambient.js';
import { LazySignal } from '../internal/lazy-signal.js';
import type { RunContext } from '../operation-context.js';
import type { Operation } from './operation.js';
import { type InheritedContext, type ResolvedContext, toInherited } from './resolved-context.js';
import type { HeldSlot, SlotHost, WaitingCall } from './slot-host.js';
import { SlotScope } from './slot-scope.js';

/**
 * A `run` made on a held slot: it takes no second slot, no breaker permit and no retry (the enclosing
 * operation owns those), and waits for its turn behind the other nested calls on the same scope. It
 * honours its own context: an aborted signal or a passed deadline answers it with TIMEOUT (the slot
 * stays with the enclosing operation), and a write is refused in read-only mode. Made on a scope that
 * has already answered its caller with TIMEOUT (its operation runs on past its deadline or an abort),
 * it is refused without running: nobody waits for its result any more.
 */
export class NestedCall<T> extends SlotScope<T> implements WaitingCall {
  readonly promise: Promise<T>;
  nextInLine: WaitingCall | undefined = undefined;
  private resolvePromise!: (value: T) => void;
  private rejectPromise!: (error: SafeguardError) => void;
  /** In line, its operation not started. */
  private waiting = true;
  private lazySignal: LazySignal | undefined = undefined;
  private inheritedContext: InheritedContext | undefined = undefined;
  /** The caller's async context, captured when the call had to wait for its turn. */
  private callerContext: AsyncContextSnapshot | undefined = undefined;

  constructor(
    host: SlotHost,
    private readonly parent: HeldSlot,
    operation: Operation<T>,
    private readonly raw: RunContext,
    readonly context: ResolvedContext,
  ) {
    super(host, operation);
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolvePromise = resolve;
      this.rejectPromise = reject;
    });
  }

  get attempt(): number {
    return this.parent.attempt;
  }

  get holdsSlot(): boolean {
    return !this.waiting && !this.operationEnded && this.parent.holdsSlot;
  }

  get parentSlot(): HeldSlot {
    return this.parent;
  }

  /** @internal Answered (aborted or past its deadline) before its turn came: skipped in the line. */
  get hasLeft(): boolean {
    return this.waiting && this.answered;
  }

  get signal(): AbortSignal {
    this.lazySignal ??= new LazySignal();
    return this.lazySignal.signal;
  }

  onAbort(listener: (reason: unknown) => void): () => void {
    this.lazySignal ??= new LazySignal();
    return this.lazySignal.onAbort(listener);
  }

  get inherited(): InheritedContext {
    this.inheritedContext ??= toInherited(this.raw, this.context);
    return this.inheritedContext;
  }

  /**
   * Refuses at once what cannot run, else waits for its turn, its deadline and signal watched from
   * now. `now` is when it was called, read only when the call has a deadline of its own; else its
   * deadline is the scope's, and the scope having given up says that it has passed. Returns the
   * promise the caller awaits.
   */
  start(now: number | undefined): Promise<T> {
    const refusal = this.refusal(now);
    if (refusal !== undefined) {
      this.answer();
      this.rejectPromise(refusal);
      return this.promise;
    }
    this.watch();
    this.parent.enter(this);
    return this.promise;
  }

  /**
   * @internal It waits in line. Its turn will come from the end of the call before it, in that call's
   * async context; what the caller's context holds (a request-ID logger, a tracing span) must not
   * become the previous call's, so it is captured now.
   */
  linedUp(): void {
    this.callerContext = snapshotAsyncContext();
  }

  /** @internal Its turn came: runs the operation with itself as the ambient store. */
  takeTurn(): void {
    this.waiting = false;
    if (this.callerContext === undefined) this.startOperation();
    else this.callerContext(() => this.startOperation());
  }

  /**
   * @internal The scope it waited on lost its slot (its operation ended) before this call's turn: it
   * runs as an operation of its own, with the context it was called with.
   */
  runWithoutSlot(): void {
    this.answer();
    const execution = () => this.host.startExecution(this.operation, this.raw, this.context);
    const settled = this.callerContext === undefined ? execution() : this.callerContext(execution);
    settled.then(this.resolvePromise, this.rejectPromise);
  }

  protected finished(): void {
    this.parent.turnEnded();
  }

  /** Watched since it was made. */
  protected operationPending(): void {}

  protected operationSucceeded(value: T): void {
    if (this.answer()) this.resolvePromise(value);
    this.endOperation();
  }

  protected operationFailed(error: unknown): void {
    if (this.answer()) this.rejectPromise(classifyError(error));
    this.endOperation();
  }

  /**
   * Answers the caller now. A waiting call leaves the line; a running one keeps its turn until its
   * operation really ends, because its connection is busy until then.
   */
  protected gaveUp(error: SafeguardError): void {
    this.lazySignal ??= new LazySignal();
    this.lazySignal.abort(error);
    this.rejectPromise(error);
  }

  private refusal(now: number | undefined): SafeguardError | undefined {
    const context = this.context;
    if (context.signal?.aborted) return callerAborted(context.signal.reason);
    const gaveUp = this.parent.givenUpWith();
    if (gaveUp !== undefined) {
      return gaveUp.reason === 'deadline' ? deadlinePassed(context.label) : callerAborted(gaveUp.cause);
    }
    if (now !== undefined && now >= context.deadline) return deadlinePassed(context.label);
    return context.isWrite ? this.host.readOnlyRefusal() : undefined;
  }
}
