import type { SafeguardError } from '../errors/safeguard-error.js';
import type { AmbientStorage } from '../internal/ambient.js';
import type { Clock } from '../internal/clock.js';
import type { DueTimers } from '../internal/due-timers.js';
import type { RunContext } from '../operation-context.js';
import type { Operation } from './operation.js';
import type { OperationScope } from './operation-scope.js';
import type { InheritedContext, ResolvedContext } from './resolved-context.js';

/**
 * The one interface the scope classes (`SlotScope`, `AttemptScope`, `NestedCall`) and `Execution`
 * depend on to reach their pipeline, so none of them imports the pipeline itself. `Pipeline`
 * implements it.
 */
export interface SlotHost {
  /** The `Safeguards` instance: the ambient store of another instance is not ours. */
  readonly owner: object;
  readonly clock: Clock;
  /** Where nested calls find the scope they run in; undefined without AsyncLocalStorage. */
  readonly ambient: AmbientStorage<AmbientStore> | undefined;
  /** The deadlines of running scopes. */
  readonly timers: DueTimers;
  /** This instance's store in the current async context, if any. */
  ownStore(): AmbientStore | undefined;
  /** A call made on `slot`: nested on it while it holds its slot, else an operation of its own. */
  runOn<T>(
    slot: HeldSlot,
    operation: Operation<T>,
    context: RunContext,
    inherited: InheritedContext,
  ): Promise<T>;
  /** An operation of its own (admission, a slot, attempts), already resolved. */
  startExecution<T>(operation: Operation<T>, context: RunContext, resolved: ResolvedContext): Promise<T>;
  /** The refusal a write gets now in read-only mode, if it is on. */
  readOnlyRefusal(): SafeguardError | undefined;
}

/** What the ambient storage holds: whose context it is, what is inherited, and the work on a held slot. */
export interface AmbientStore {
  readonly owner: object;
  readonly inherited: InheritedContext;
  /**
   * The work running on a held slot in this async context, if any. It may have ended since the store
   * was made (a `withContext` block can outlive it): ask {@link HeldSlot.holdsSlot} before using it.
   */
  readonly slot: HeldSlot | undefined;
}

/** Work running on a held slot, as the pipeline and the calls nested on it see it (a `SlotScope`). */
export interface HeldSlot extends OperationScope {
  /** True while its operation runs on a slot its attempt still holds. Read live, never cached. */
  readonly holdsSlot: boolean;
  /** The slot this one is a nested call on; undefined for an attempt (the root of the tree). */
  readonly parentSlot: HeldSlot | undefined;
  /**
   * The error this slot, or one it is nested in, has answered its caller with while its operation
   * still runs: work started on it now comes too late.
   */
  givenUpWith(): SafeguardError | undefined;
  /** Runs `call` now if no other nested call runs on this slot, else lines it up. */
  enter(call: WaitingCall): void;
  /** The nested call running on this slot has ended, with all the work on it. */
  turnEnded(): void;
}

/** A nested call as the slot it waits on sees it (see `NestedCall`). */
export interface WaitingCall {
  /** FIFO link of the line the call stands in. */
  nextInLine: WaitingCall | undefined;
  /** Answered (aborted or past its deadline) before its turn came: skipped. */
  readonly hasLeft: boolean;
  /** It stands in line: its turn comes from another call's callback, so it keeps its caller's context. */
  linedUp(): void;
  /** Its turn: runs its operation now. */
  takeTurn(): void;
  /** The slot lost its hold before the call's turn: it runs as an operation of its own. */
  runWithoutSlot(): void;
}
