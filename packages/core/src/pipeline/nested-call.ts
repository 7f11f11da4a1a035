import { classifyError } from '../errors/classify-error.js';
import type { SafeguardError } from '../errors/safeguard-error.js';
import type { DueEntry } from '../internal/due-timers.js';
import { isThenable } from '../internal/is-thenable.js';
import type { RunContext } from '../operation-context.js';
import type { Operation, Pipeline } from './pipeline.js';
import { type InheritedContext, type ResolvedContext, toInherited } from './resolved-context.js';
import { SlotScope, type WaitingCall } from './slot-scope.js';

function invokeNested(call: { invoke(): void }): void {
  call.invoke();
}

/**
 * A `run` made on a held slot: it takes no second slot, no breaker permit and no retry (the enclosing
 * operation owns those), and waits for its turn behind the other nested calls on the same scope. It
 * honours its own context: an aborted signal or a passed deadline answers it with TIMEOUT (the slot
 * stays with the enclosing operation), and a write is refused in read-only mode. Made on a scope that
 * has already answered its caller with TIMEOUT (its operation runs on past its deadline or an abort),
 * it is refused without running: nobody waits for its result any more.
 */
export class NestedCall<T> extends SlotScope implements DueEntry, WaitingCall {
  readonly promise: Promise<T>;
  dueAt: number;
  dueNext: DueEntry | undefined = undefined;
  duePrev: DueEntry | undefined = undefined;
  dueListed = false;
  nextInLine: WaitingCall | undefined = undefined;
  private resolvePromise!: (value: T) => void;
  private rejectPromise!: (error: SafeguardError) => void;
  /** In line, its operation not started. */
  private waiting = true;
  /** The caller has its answer: the operation's outcome, a refusal, a timeout or an abort. */
  private answered = false;
  private controller: AbortController | undefined = undefined;
  private abortReason: unknown = undefined;
  private abortListener: (() => void) | undefined = undefined;
  private inheritedContext: InheritedContext | undefined = undefined;

  constructor(
    pipeline: Pipeline,
    private readonly parent: SlotScope,
    private readonly operation: Operation<T>,
    private readonly raw: RunContext,
    readonly context: ResolvedContext,
  ) {
    super(pipeline);
    this.dueAt = context.deadline;
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

  protected get parentScope(): SlotScope {
    return this.parent;
  }

  /** @internal Answered (aborted or past its deadline) before its turn came: skipped in the line. */
  get hasLeft(): boolean {
    return this.waiting && this.answered;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  get inherited(): InheritedContext {
    this.inheritedContext ??= toInherited(this.raw, this.context);
    return this.inheritedContext;
  }

  /**
   * Refuses at once what cannot run, else waits for its turn. `now` is when it was called, read only
   * when the call has a deadline of its own; else its deadline is the scope's, and the scope having
   * given up says that it has passed. Returns the promise the caller awaits.
   */
  start(now: number | undefined): Promise<T> {
    const refusal = this.refusal(now);
    if (refusal !== undefined) {
      this.answered = true;
      this.rejectPromise(refusal);
      return this.promise;
    }
    const pipeline = this.pipeline;
    const signal = this.context.signal;
    pipeline.timers.add(this);
    if (signal !== undefined) {
      this.abortListener = () => this.giveUp(pipeline.abortError(signal.reason));
      signal.addEventListener('abort', this.abortListener, { once: true });
    }
    this.parent.enter(this);
    return this.promise;
  }

  /** @internal Its turn came: runs the operation with itself as the ambient store. */
  takeTurn(): void {
    this.waiting = false;
    const ambient = this.pipeline.ambient;
    if (ambient === undefined) this.invoke();
    else ambient.run(this, invokeNested, this);
  }

  /** @internal */
  invoke(): void {
    let result: T | PromiseLike<T>;
    try {
      result = this.operation(this);
    } catch (error) {
      this.settled(undefined, error, false);
      return;
    }
    if (!isThenable(result)) {
      this.settled(result, undefined, true);
      return;
    }
    result.then(
      (value) => this.settled(value, undefined, true),
      (error: unknown) => this.settled(undefined, error, false),
    );
  }

  /**
   * @internal The scope it waited on lost its slot (its operation ended) before this call's turn: it
   * runs as an operation of its own, with the context it was called with.
   */
  runWithoutSlot(): void {
    this.detachWatchers();
    this.answered = true;
    this.pipeline
      .startExecution(this.operation, this.raw, this.context)
      .then(this.resolvePromise, this.rejectPromise);
  }

  /** The deadline passed (while waiting or running). */
  onDue(): void {
    this.giveUp(this.pipeline.deadlineError(this.context));
  }

  protected finished(): void {
    this.parent.turnEnded();
  }

  private refusal(now: number | undefined): SafeguardError | undefined {
    const pipeline = this.pipeline;
    const context = this.context;
    if (context.signal?.aborted) return pipeline.abortError(context.signal.reason);
    const gaveUp = this.parent.givenUpWith();
    if (gaveUp !== undefined) {
      return gaveUp.reason === 'deadline'
        ? pipeline.deadlineError(context)
        : pipeline.abortError(gaveUp.cause);
    }
    if (now !== undefined && now >= context.deadline) return pipeline.deadlineError(context);
    return context.isWrite ? pipeline.readOnlyRefusal() : undefined;
  }

  /**
   * Answers the caller now. A waiting call leaves the line; a running one keeps its turn until its
   * operation really ends, because its connection is busy until then.
   */
  private giveUp(error: SafeguardError): void {
    if (this.answered) return;
    this.answered = true;
    this.gaveUpWith = error;
    this.detachWatchers();
    this.abortReason = error;
    this.controller?.abort(error);
    this.rejectPromise(error);
  }

  private settled(value: T | undefined, error: unknown, ok: boolean): void {
    if (!this.answered) {
      this.answered = true;
      this.detachWatchers();
      if (ok) this.resolvePromise(value as T);
      else this.rejectPromise(classifyError(error));
    }
    this.endOperation();
  }

  private detachWatchers(): void {
    if (this.dueListed) this.pipeline.timers.delete(this);
    if (this.abortListener !== undefined) {
      this.context.signal?.removeEventListener('abort', this.abortListener);
      this.abortListener = undefined;
    }
  }
}
