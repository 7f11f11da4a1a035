import type { ResolvedContext } from './resolved-context.js';

/** What an operation receives: its signal, deadline and attempt, and a way to run more work on its slot. */
export interface OperationScope {
  /**
   * Aborted when the deadline passes or the caller's signal aborts. Pass it to the driver (cancel the
   * query) so the connection is freed as soon as possible. Created on first access.
   */
  readonly signal: AbortSignal;
  /**
   * Calls `listener` once, with the same reason `signal` aborts with, when the operation is given up
   * (deadline, the caller's signal); at once if it already was. Returns a function that detaches it.
   * Cheaper than `signal` when all you need is a callback (cancel the query): no AbortController is
   * made for it.
   */
  onAbort(listener: (reason: unknown) => void): () => void;
  /** Absolute deadline in epoch ms; always finite (`defaultTimeoutMs` after the start if none was set). */
  readonly deadline: number;
  /** 1 for the first attempt, 2 for the first retry, ... */
  readonly attempt: number;
  readonly context: ResolvedContext;
  /** Milliseconds left before the deadline. */
  remainingMs(): number;
  /**
   * Runs more work on this operation's slot without queueing for another one, after the nested calls
   * already running or waiting on it (a slot is one connection: they take turns). AsyncLocalStorage
   * does this automatically for nested `safeguards.run` calls; this is the explicit form for runtimes
   * without it. Once the operation has ended, the work takes a slot of its own.
   *
   * Called from inside a nested call running on this scope (the scope was captured, e.g. by a
   * transaction object), the work runs as that nested call's child, as an ambient `safeguards.run`
   * would; this needs AsyncLocalStorage to see where the caller is, so without it call `run` on the
   * scope your operation was handed.
   *
   * A nested operation must never wait for a call made after it on the same scope (a later sibling):
   * that call's turn comes only once the nested operation has ended, so both wait until the deadline.
   * Work that lives until something later happens (a reserved or checked-out connection, held until
   * `release()`) is not a nested call: inside an operation, use the operation's own slot directly.
   */
  run<T>(operation: (scope: OperationScope) => T | Promise<T>): Promise<T>;
}
