import type { SafeguardsOptions } from '../config/safeguards-options.js';
import type { SafeguardError } from '../errors/safeguard-error.js';
import { type AmbientStorage, createAmbientStorage } from '../internal/ambient.js';
import type { Clock } from '../internal/clock.js';
import { DueTimers } from '../internal/due-timers.js';
import type { RunContext } from '../operation-context.js';
import { Execution } from './execution.js';
import { NestedCall } from './nested-call.js';
import type { Operation } from './operation.js';
import { PipelineParts } from './pipeline-parts.js';
import {
  type InheritedContext,
  type ResolvedContext,
  resolveContext,
  toInherited,
} from './resolved-context.js';
import type { AmbientStore, HeldSlot, SlotHost } from './slot-host.js';

let sharedAmbient: AmbientStorage<AmbientStore> | undefined;

/**
 * The storage every instance shares, created on first use rather than at import, so that the `node`
 * entry has registered node:async_hooks' AsyncLocalStorage by then.
 */
function sharedAmbientStorage(): AmbientStorage<AmbientStore> | undefined {
  sharedAmbient ??= createAmbientStorage<AmbientStore>();
  return sharedAmbient;
}

/** What `withContext` returns: a lazy thenable comes back as the promise of its value. */
export type WithContextResult<R> =
  R extends Promise<unknown> ? R : R extends PromiseLike<infer V> ? Promise<V> : R;

/**
 * Query builders such as drizzle's are lazy thenables: they run when awaited, which would be after
 * the context block has ended. Starting them inside the block keeps them in its context.
 */
function startLazy<R>(result: R): WithContextResult<R> {
  const then = (result as { then?: unknown } | null | undefined)?.then;
  if (typeof then !== 'function' || result instanceof Promise) return result as WithContextResult<R>;
  return new Promise((resolve, reject) => {
    (result as PromiseLike<unknown>).then(resolve, reject);
  }) as WithContextResult<R>;
}

function runAndStart<R>(callback: () => R): WithContextResult<R> {
  return startLazy(callback());
}

/**
 * How `run` and `withContext` work, on the parts of one `Safeguards` instance: an operation of its own
 * becomes an {@link Execution}, a call on a held slot a {@link NestedCall}, and the ambient storage
 * carries the context and the slot between them. The scopes reach it only through {@link SlotHost}.
 * Not exported from the package: `Safeguards` is the public face.
 */
export class Pipeline implements SlotHost {
  readonly parts: PipelineParts;
  readonly clock: Clock;
  readonly ambient: AmbientStorage<AmbientStore> | undefined;
  readonly timers: DueTimers;

  constructor(
    readonly owner: object,
    options: SafeguardsOptions,
  ) {
    this.ambient =
      options.ambientStorage === false
        ? undefined
        : ((options.ambientStorage as AmbientStorage<AmbientStore> | undefined) ?? sharedAmbientStorage());
    this.parts = new PipelineParts(options);
    this.clock = this.parts.clock;
    this.timers = new DueTimers(this.clock);
  }

  /** The store of this instance in the current async context, if any. */
  ownStore(): AmbientStore | undefined {
    const store = this.ambient?.getStore();
    return store !== undefined && store.owner === this.owner ? store : undefined;
  }

  run<T>(operation: Operation<T>, context: RunContext): Promise<T> {
    const store = this.ownStore();
    if (store === undefined) return this.runFresh(operation, context, undefined);
    const slot = store.slot;
    if (slot !== undefined) return this.runOn(slot, operation, context, store.inherited);
    return this.runFresh(operation, context, store.inherited);
  }

  /**
   * A call made on `scope`: a nested call on its slot while the scope still holds one (it waits for its
   * turn, see `SlotScope`), else an operation of its own with the caller's context.
   */
  runOn<T>(
    scope: HeldSlot,
    operation: Operation<T>,
    context: RunContext,
    inherited: InheritedContext,
  ): Promise<T> {
    if (!scope.holdsSlot) return this.runFresh(operation, context, inherited);
    // Most nested calls (every query of a transaction) set no deadline of their own: they inherit the
    // scope's, which was checked when the scope started; once it passes, the scope's timer gives up
    // and the call is refused by that flag (see NestedCall), so it skips the clock read, a tenth of its
    // cost on some VMs. Any other deadline (its own, or a withContext block's) is checked now.
    const ownDeadline =
      context.deadline !== undefined ||
      context.timeoutMs !== undefined ||
      inherited.deadline !== scope.deadline;
    const now = ownDeadline ? this.clock.now() : undefined;
    let resolved: ResolvedContext;
    try {
      // Without an own deadline resolveContext never reads `now`: the inherited deadline applies.
      resolved = resolveContext(context, inherited, now ?? Number.NaN, this.parts.defaultTimeoutMs);
    } catch (error) {
      return Promise.reject(error);
    }
    return new NestedCall(this, scope, operation, context, resolved).start(now);
  }

  private runFresh<T>(
    operation: Operation<T>,
    context: RunContext,
    inherited: InheritedContext | undefined,
  ): Promise<T> {
    const now = this.clock.now();
    let resolved: ResolvedContext;
    try {
      resolved = resolveContext(context, inherited, now, this.parts.defaultTimeoutMs);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.startExecution(operation, context, resolved, now);
  }

  /** Starts an operation of its own: admission, a slot, attempts. */
  startExecution<T>(
    operation: Operation<T>,
    context: RunContext,
    resolved: ResolvedContext,
    now = this.clock.now(),
  ): Promise<T> {
    this.parts.stats.operationStarted();
    return new Execution(this, this.parts, operation, context, resolved, now).start();
  }

  withContext<R>(context: RunContext, callback: () => R): WithContextResult<R> {
    if (this.ambient === undefined) return startLazy(callback());
    const store = this.ownStore();
    const resolved = resolveContext(context, store?.inherited, this.clock.now(), this.parts.defaultTimeoutMs);
    // The slot is looked up live when a call is made: the block may outlive the work holding it.
    // The outermost block is the request: blocks inside it share its progress.
    const inherited = toInherited(context, resolved);
    const child: AmbientStore = {
      owner: this.owner,
      inherited: inherited.progress
        ? inherited
        : { ...inherited, progress: { started: false, admitted: context.admitted === true } },
      slot: store?.slot,
    };
    return this.ambient.run(child, runAndStart, callback);
  }

  readOnlyRefusal(): SafeguardError | undefined {
    return this.parts.readOnlyRefusal();
  }
}
