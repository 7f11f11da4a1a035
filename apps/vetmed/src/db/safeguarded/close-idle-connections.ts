import type { Safeguards } from '@db-safeguards/core';

/**
 * Keeps a pool from holding connections the effective limit no longer allows: idle pooled
 * connections of one instance would otherwise keep the role's slots from the others (issue 14).
 * `closeAll` ends every connection of the pool gracefully (busy ones after their current query) and
 * leaves the pool usable: postgres.js's `sql.close()`, which is all it offers (it exposes neither how
 * many connections are open nor a way to end one). So it is called only when the limit drops below
 * what the pool may still have open: the most slots held since the previous close (`peakHeld`), as
 * a pool behind the safeguards opens a connection only for an operation holding a slot. A limit that
 * stays above that closes nothing. Returns the function that stops it.
 */
export function closeIdleConnectionsOnLimitDrop(
  safeguards: Safeguards,
  closeAll: () => Promise<unknown>,
): () => void {
  let mayBeOpen = 0;
  const subscription = safeguards.onLimitChange((change) => {
    mayBeOpen = Math.max(mayBeOpen, change.peakHeld);
    if (change.limit >= mayBeOpen) return;
    // Counting starts again from this change: its `peakHeld` baseline is the slots held now, the
    // connections still finishing their query included.
    mayBeOpen = 0;
    closeAll().catch(() => {
      // A pool that is ending anyway: nothing to trim.
    });
  });
  return () => subscription.dispose();
}
