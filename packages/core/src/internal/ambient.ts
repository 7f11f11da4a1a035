/**
 * Ambient (async-local) context: how a database call made deep inside a procedure learns the priority,
 * deadline and held slot of the operation around it without every function passing them along.
 */
export interface AmbientStorage<T> {
  getStore(): T | undefined;
  /** Runs `callback(...args)` with `store` as the current store (arguments avoid a closure per call). */
  run<R, A extends unknown[]>(store: T, callback: (...args: A) => R, ...args: A): R;
}

/** The shape of `AsyncLocalStorage` from `node:async_hooks`. */
export type AsyncLocalStorageConstructor = (new <T>() => AmbientStorage<T>) & {
  /** Captures the current async context (every storage's store); absent on some runtimes. */
  snapshot?: () => AsyncContextSnapshot;
};

/** Runs a callback in the async context captured when the snapshot was taken. */
export type AsyncContextSnapshot = <R>(callback: () => R) => R;

let registered: AsyncLocalStorageConstructor | undefined;
let warned = false;

/**
 * Called by the package's `node` entry (the `node` export condition) with `node:async_hooks`'
 * AsyncLocalStorage, so Node versions without `process.getBuiltinModule` (20.0 to 20.15) get it too.
 * Storages are created on first use, after every entry module has run.
 */
export function registerAsyncLocalStorage(storageClass: AsyncLocalStorageConstructor): void {
  registered = storageClass;
}

/**
 * Finds an AsyncLocalStorage without importing a Node module, so the main entry loads on every runtime:
 * the one the `node` entry registered; else `process.getBuiltinModule` (Node >= 20.16, Bun, Deno);
 * else a global one (Cloudflare Workers with nodejs_compat). Elsewhere there is no ambient context and
 * callers pass the scope explicitly (see `OperationScope.run`); on Node that means the runtime-agnostic
 * entry was loaded on an old Node, which is worth a warning: nested calls would queue for a second slot.
 */
export function createAmbientStorage<T>(): AmbientStorage<T> | undefined {
  const Storage = findStorageClass();
  return Storage ? new Storage<T>() : undefined;
}

/**
 * Captures the caller's whole async context (its own storages too: a request-ID logger, a tracing
 * span), for work that will be started later from somebody else's callback: a nested call that waits
 * for its turn on a slot is started when the call before it ends, and would otherwise run in that
 * call's context. Undefined where the runtime cannot capture one.
 */
export function snapshotAsyncContext(): AsyncContextSnapshot | undefined {
  return findStorageClass()?.snapshot?.();
}

/** The runtime's AsyncLocalStorage as looked up once (an empty box: there is none). */
let lookedUp: { Storage: AsyncLocalStorageConstructor | undefined } | undefined;

function findStorageClass(): AsyncLocalStorageConstructor | undefined {
  if (registered !== undefined) return registered;
  lookedUp ??= { Storage: lookUpStorageClass() };
  return lookedUp.Storage;
}

function lookUpStorageClass(): AsyncLocalStorageConstructor | undefined {
  const g = globalThis as {
    AsyncLocalStorage?: AsyncLocalStorageConstructor;
    process?: {
      versions?: { node?: string };
      getBuiltinModule?: (id: string) => { AsyncLocalStorage?: AsyncLocalStorageConstructor };
    };
  };
  let Storage: AsyncLocalStorageConstructor | undefined;
  try {
    Storage = g.process?.getBuiltinModule?.('node:async_hooks')?.AsyncLocalStorage ?? g.AsyncLocalStorage;
  } catch {
    Storage = g.AsyncLocalStorage;
  }
  if (Storage === undefined && g.process?.versions?.node !== undefined && !warned) {
    warned = true;
    console.warn(
      `[db-safeguards] no AsyncLocalStorage on Node ${g.process.versions.node}: nested safeguards.run calls ` +
        'will not find the slot of the operation around them. Import @db-safeguards/core through its ' +
        '"node" export condition (plain Node does), or use scope.run explicitly.',
    );
  }
  return Storage;
}
