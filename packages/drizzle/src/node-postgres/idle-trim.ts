import type { Safeguards } from '@db-safeguards/core';

/** The pg-pool internals (pg 8, and Neon's copy of it) this file relies on, detected before use. */
interface PoolInternals {
  _idle?: Array<{ client: object }>;
  _remove?: (client: object) => void;
  totalCount: number;
}

/**
 * When the effective connection limit drops (the database said it was full, a shared budget's grant
 * moved), closes idle pooled connections beyond the new limit, so the pool does not keep holding
 * connections the process may no longer use while other clients wait for them. pg has no public call
 * for that: pg-pool's own idle list and `_remove` are used when present, and nothing happens otherwise
 * (idle connections then close after `idleTimeoutMillis`). Returns the disposer of the subscription.
 */
export function trimIdleOnLimitDrop(pool: object, safeguards: Safeguards): () => void {
  const internals = pool as PoolInternals;
  const subscription = safeguards.onLimitChange((change) => {
    if (change.limit >= change.previous) return;
    if (!Array.isArray(internals._idle) || typeof internals._remove !== 'function') return;
    let excess = internals.totalCount - change.limit;
    while (excess > 0 && internals._idle.length > 0) {
      const { client } = internals._idle[internals._idle.length - 1]!;
      internals._remove.call(pool, client);
      excess--;
    }
  });
  return () => subscription.dispose();
}
