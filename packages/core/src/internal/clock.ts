/** An opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown;

/**
 * Time as the safeguards see it. Everything that waits or measures takes a clock, so tests can drive
 * time by hand (see `ManualClock` in `@db-safeguards/core/testing`) instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /**
   * Calls `callback` after `ms` milliseconds. The timer must not keep the process alive, unless
   * `keepAlive` is true: that is for a wait someone is awaiting (a retry's backoff), which would
   * otherwise be lost when nothing else keeps the process running. Deadlines, queue timeouts and
   * housekeeping timers never pass it.
   */
  setTimeout(callback: () => void, ms: number, keepAlive?: boolean): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The real clock: `Date.now()` and timers that are `unref()`ed where the runtime supports it (except
 * the `keepAlive` ones).
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms, keepAlive) {
    const handle = setTimeout(callback, ms) as unknown as { unref?: () => void };
    if (keepAlive) return handle;
    // Node and Bun return an object with unref(); browsers and edge runtimes return a number.
    if (typeof handle === 'object' && handle !== null && typeof handle.unref === 'function') handle.unref();
    else (globalThis as { Deno?: { unrefTimer?: (id: unknown) => void } }).Deno?.unrefTimer?.(handle);
    return handle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as Parameters<typeof clearTimeout>[0]);
  },
};

/**
 * Waits `ms` on `clock`; rejects with the signal's reason if it aborts first. `keepAlive`: see
 * {@link Clock.setTimeout}.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal, keepAlive = false): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clock.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = clock.setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      ms,
      keepAlive,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
