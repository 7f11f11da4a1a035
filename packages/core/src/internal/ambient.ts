/**
 * Ambient (async-local) context: how a database call made deep inside a procedure learns the priority,
 * deadline and held slot of the operation around it without every function passing them along.
 */
export interface AmbientStorage<T> {
  getStore(): T | undefined;
  /** Runs `callback(...args)` with `store` as the current store (arguments avoid a closure per call). */
  run<R, A extends unknown[]>(store: T, callback: (...args: A) => R, ...args: A): R;
}

type AsyncLocalStorageConstructor = new <T>() => AmbientStorage<T>;

/**
 * Finds an AsyncLocalStorage without importing a Node module, so the main entry loads on every runtime:
 * `process.getBuiltinModule` exists on Node >= 20.16, Bun and Deno; Cloudflare Workers with
 * nodejs_compat expose the class globally. Elsewhere there is no ambient context and callers pass the
 * scope explicitly (see `OperationScope.run`).
 */
export function createAmbientStorage<T>(): AmbientStorage<T> | undefined {
  const g = globalThis as {
    AsyncLocalStorage?: AsyncLocalStorageConstructor;
    process?: { getBuiltinModule?: (id: string) => { AsyncLocalStorage?: AsyncLocalStorageConstructor } };
  };
  let Storage: AsyncLocalStorageConstructor | undefined;
  try {
    Storage = g.process?.getBuiltinModule?.('node:async_hooks')?.AsyncLocalStorage ?? g.AsyncLocalStorage;
  } catch {
    Storage = g.AsyncLocalStorage;
  }
  return Storage ? new Storage<T>() : undefined;
}
