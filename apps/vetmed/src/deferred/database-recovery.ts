import { BreakerState, type Safeguards } from '@db-safeguards/core';

/** What ended a wait for the database: its breaker closed, the wait's bound passed, or the wait was called off. */
export type RecoveryWaitEnd = 'recovered' | 'elapsed' | 'aborted';

/** See {@link watchDatabaseRecovery}. */
export interface DatabaseRecovery {
  /**
   * Resolves when the breaker closes (the safeguards saw the database answer again), after `maxMs`
   * at the latest (the caller then tries again itself, which is how an open breaker with no other
   * traffic is probed), or at once when `signal` aborts. `since` (epoch ms, default now): when the
   * caller met the failure; a breaker that closed since then ends the wait at once.
   */
  wait(maxMs: number, signal: AbortSignal, since?: number): Promise<RecoveryWaitEnd>;
  /** Stops listening; waits still pending end as `aborted`. */
  dispose(): void;
}

/**
 * One subscription to a breaker's state changes, shared by every caller waiting for the database to
 * be back: whoever waits wakes the moment the breaker closes, not at the end of a fixed pause. A
 * breaker closes when its half-open probes succeed, which live calls usually are: the waiters then
 * start right behind them (at their own priority, so still after the live calls).
 */
export function watchDatabaseRecovery(safeguards: Safeguards, breaker: string): DatabaseRecovery {
  const waiters = new Set<(end: RecoveryWaitEnd) => void>();
  let recoveredAt = Number.NEGATIVE_INFINITY;
  const subscription = safeguards.onBreakerStateChange((change) => {
    if (change.breaker !== breaker || change.to !== BreakerState.CLOSED) return;
    recoveredAt = Date.now();
    for (const wake of [...waiters]) wake('recovered');
  });
  return {
    wait(maxMs, signal, since = Date.now()) {
      if (signal.aborted) return Promise.resolve('aborted');
      if (recoveredAt >= since) return Promise.resolve('recovered');
      return new Promise((resolve) => {
        const finish = (end: RecoveryWaitEnd) => {
          waiters.delete(finish);
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          resolve(end);
        };
        const onAbort = () => finish('aborted');
        const timer = setTimeout(() => finish('elapsed'), maxMs);
        waiters.add(finish);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    },
    dispose() {
      subscription.dispose();
      for (const wake of [...waiters]) wake('aborted');
    },
  };
}
