/** The part of `AsyncLocalStorage` this package uses. */
export interface AsyncStorage<T> {
  getStore(): T | undefined;
  run<R>(store: T, callback: () => R): R;
}

type StorageClass = new <T>() => AsyncStorage<T>;

/**
 * An AsyncLocalStorage found without importing a `node:` module, so every entry loads on edge runtimes:
 * `process.getBuiltinModule` (Node >= 20.16, Bun, Deno), else a global one (Cloudflare Workers with
 * `nodejs_compat`). Undefined where the runtime has none: the transaction-misuse check is then off
 * (the package README says so); everything else works.
 */
export function createAsyncStorage<T>(): AsyncStorage<T> | undefined {
  const g = globalThis as {
    AsyncLocalStorage?: StorageClass;
    process?: { getBuiltinModule?: (id: string) => { AsyncLocalStorage?: StorageClass } | undefined };
  };
  let Storage: StorageClass | undefined;
  try {
    Storage = g.process?.getBuiltinModule?.('node:async_hooks')?.AsyncLocalStorage ?? g.AsyncLocalStorage;
  } catch {
    Storage = g.AsyncLocalStorage;
  }
  return Storage ? new Storage<T>() : undefined;
}
