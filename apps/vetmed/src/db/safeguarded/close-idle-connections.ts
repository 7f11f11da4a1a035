import type { Safeguards } from '@db-safeguards/core';

/**
 * Keeps a pool from holding connections the effective limit no longer allows: idle pooled
 * connections of one instance would otherwise keep the role's slots from the others (issue 14).
 * `closeAll` ends every connection of the pool gracefully (busy ones after their current query) and
 * leaves the pool usable: postgres.js's `sql.close()`, which is all it offers (it exposes neither how
 * many connections are open nor a way to end one). So it is called only when the limit has stayed,
 * for `settleMs`, below what the pool may still have open: the most slots held since the previous
 * close (`peakHeld`), as a pool behind the safeguards opens a connection only for an operation
 * holding a slot. A limit that dips and comes back (a shared grant moving between instances) closes
 * nothing: each close costs every connection a reconnect. Returns the function that stops it.
 */
export function closeIdleConnectionsOnLimitDrop(
  safeguards: Safeguards,
  closeAll: () => Promise<unknown>,
  settleMs = 1000,
): () => void {
  let mayBeOpen = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const check = () => {
    timer = undefined;
    if (safeguards.limit.limit >= mayBeOpen) return;
    // Counting starts again from here: the next change's `peakHeld` includes the slots held now,
    // whose connections are finishing their query.
    mayBeOpen = 0;
    closeAll().catch(() => {
      // A pool that is ending anyway: nothing to trim.
    });
  };
  const subscription = safeguards.onLimitChange((change) => {
    mayBeOpen = Math.max(mayBeOpen, change.peakHeld);
    if (change.limit >= mayBeOpen || timer !== undefined) return;
    timer = setTimeout(check, settleMs);
    timer.unref?.();
  });
  return () => {
    subscription.dispose();
    if (timer !== undefined) clearTimeout(timer);
  };
}
