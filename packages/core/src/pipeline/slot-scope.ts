import type { SafeguardError } from '../errors/safeguard-error.js';
import type { RunContext } from '../operation-context.js';
import type { OperationScope } from './operation-scope.js';
import type { Operation, Pipeline } from './pipeline.js';
import type { InheritedContext, ResolvedContext } from './resolved-context.js';

/** What the ambient storage holds: whose context it is, what is inherited, and the work on a held slot. */
export interface AmbientStore {
  readonly owner: object;
  readonly inherited: InheritedContext;
  /**
   * The work running on a held slot in this async context, if any. It may have ended since the store
   * was made (a `withContext` block can outlive it): ask {@link SlotScope.holdsSlot} before using it.
   */
  readonly slot: SlotScope | undefined;
}

/** A nested call as the scope it waits on sees it (see `NestedCall`). */
export interface WaitingCall {
  /** @internal FIFO link of the line the call stands in. */
  nextInLine: WaitingCall | undefined;
  /** Answered (aborted or past its deadline) before its turn came: skipped. */
  readonly hasLeft: boolean;
  /** Its turn: runs its operation now. */
  takeTurn(): void;
  /** The scope lost its slot before the call's turn: it runs as an operation of its own. */
  runWithoutSlot(): void;
}

const noContext: RunContext = Object.freeze({});

/**
 * Work running on one held slot: an attempt of an operation (`AttemptScope`) or a call nested in
 * it (`NestedCall`), which is a scope in turn. A slot stands for ONE connection, so the nested
 * calls made on a scope take turns, first come first served; a call made inside a running nested call
 * is that call's child and waits only for its own siblings, never for its parent. At every level at
 * most one child runs, so at most one leaf of the tree runs at a time.
 *
 * A scope is finished when its own operation has settled and the nested call running on it (if any)
 * has ended; calls still waiting when its operation settles run as operations of their own.
 */
export abstract class SlotScope implements OperationScope, AmbientStore {
  /** This scope's own operation has settled. */
  protected operationEnded = false;
  /**
   * The error this scope answered its caller with at its deadline or an abort, while its operation
   * may still run on the slot.
   */
  protected gaveUpWith: SafeguardError | undefined = undefined;
  private turnTaken = false;
  private lineHead: WaitingCall | undefined = undefined;
  private lineTail: WaitingCall | undefined = undefined;
  private draining = false;
  private turnEndedWhileDraining = false;
  private isFinished = false;

  constructor(protected readonly pipeline: Pipeline) {}

  abstract get context(): ResolvedContext;
  abstract get attempt(): number;
  abstract get signal(): AbortSignal;
  abstract get inherited(): InheritedContext;
  /** True while this scope's operation runs on a slot its attempt still holds. Read live, never cached. */
  abstract get holdsSlot(): boolean;
  /** The scope this one is a nested call on; undefined for an attempt (the root of the tree). */
  protected abstract get parentScope(): SlotScope | undefined;
  /** Called once, when this scope's operation and the nested call running on it have both ended. */
  protected abstract finished(): void;

  get owner(): object {
    return this.pipeline.owner;
  }

  get slot(): SlotScope {
    return this;
  }

  get deadline(): number {
    return this.context.deadline;
  }

  remainingMs(): number {
    return Math.max(0, this.context.deadline - this.pipeline.clock.now());
  }

  /**
   * Called from inside a nested call running on this scope (at any depth), the work is that call's
   * child: lined up on this scope it would wait for the very call that waits for it, a deadlock until
   * the deadline. Only the ambient storage can tell where the caller is; without it, pass the scope
   * your operation was handed.
   */
  run<R>(operation: Operation<R>): Promise<R> {
    const store = this.pipeline.ownStore();
    const inner = store?.slot;
    if (inner !== undefined && inner !== this && inner.holdsSlot && inner.descendsFrom(this)) {
      return this.pipeline.runOn(inner, operation, noContext, store!.inherited);
    }
    return this.pipeline.runOn(this, operation, noContext, this.inherited);
  }

  /**
   * @internal The error this scope, or one it is nested in, has answered its caller with while its
   * operation still runs: work started on it now comes too late (its caller has its answer).
   */
  givenUpWith(): SafeguardError | undefined {
    for (let scope: SlotScope | undefined = this; scope !== undefined; scope = scope.parentScope) {
      if (scope.gaveUpWith !== undefined) return scope.gaveUpWith;
    }
    return undefined;
  }

  /** Whether this scope is a nested call on `ancestor`, directly or through other nested calls. */
  private descendsFrom(ancestor: SlotScope): boolean {
    for (let scope = this.parentScope; scope !== undefined; scope = scope.parentScope) {
      if (scope === ancestor) return true;
    }
    return false;
  }

  /** Whether a nested call runs on this scope right now. */
  protected get hasRunningCall(): boolean {
    return this.turnTaken;
  }

  /** @internal Runs `call` now if no other nested call runs on this scope, else lines it up. */
  enter(call: WaitingCall): void {
    if (!this.turnTaken) {
      this.turnTaken = true;
      call.takeTurn();
      return;
    }
    if (this.lineTail === undefined) this.lineHead = call;
    else this.lineTail.nextInLine = call;
    this.lineTail = call;
  }

  /**
   * @internal The nested call running on this scope has ended, with all the work on it: the next in
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
