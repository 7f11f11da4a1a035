/** Whether `value` has a `then` method: a promise, or a lazy thenable such as a drizzle query builder. */
export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}
