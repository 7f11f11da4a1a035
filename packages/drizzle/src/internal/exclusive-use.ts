import { createAsyncStorage } from './async-storage.js';

// The single-connection clients whose exclusive use the current async context holds.
const holders = createAsyncStorage<ReadonlySet<object>>();

/**
 * Serialises the use of one connection shared by concurrent callers (a lone pg `Client`): a transaction
 * on it must keep every other caller's statements out until it ends, or they would run inside it and be
 * rolled back with it. Work already inside a holder's async context (the transaction's own statements)
 * runs at once. Without AsyncLocalStorage nothing is serialised (see the README).
 *
 * The returned `claim()` must be called in the caller's own async context, before the work waits for a
 * slot: a queued operation may be started from the stack of the operation that freed the slot, whose
 * context (a transaction holding this resource) is not the caller's.
 */
export function createExclusiveUse(resource: object): ExclusiveUse {
  let tail: Promise<unknown> = Promise.resolve();
  return () => {
    const current = holders?.getStore();
    if (holders === undefined || current?.has(resource)) return (work) => work();
    const storage = holders;
    const next = new Set(current);
    next.add(resource);
    return <T>(work: () => Promise<T>): Promise<T> => {
      const turn = tail.then(() => storage.run(next, work));
      tail = turn.catch(() => {});
      return turn;
    };
  };
}

/** Claims a turn on a shared connection, in the caller's context; the result runs work in that turn. */
export type ExclusiveUse = () => <T>(work: () => Promise<T>) => Promise<T>;
