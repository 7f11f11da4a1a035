import type { SafeguardError, Safeguards } from '@db-safeguards/core';

/** What {@link watchConnectionRefusals} counted. */
export interface ConnectionRefusals {
  /** Attempts refused for too many connections and retried: invisible to the client. */
  readonly retried: number;
  /** Operations that failed with it in the end. */
  readonly failed: number;
  stop(): void;
}

const isRefusal = (error: SafeguardError) =>
  error.reason === 'too-many-connections' || error.sqlState === '53300';

/**
 * Counts the too-many-connections errors (53300, a role or server limit) the safeguards meet from
 * now on. A client never sees the retried ones, and a role's CONNECTION LIMIT equal to the budget
 * keeps the server's backend count at the budget whatever the app does: these counts are what show
 * that the app tried to open more connections than its budget.
 */
export function watchConnectionRefusals(safeguards: Safeguards): ConnectionRefusals {
  let retried = 0;
  let failed = 0;
  const subscriptions = [
    safeguards.onRetry((event) => {
      if (isRefusal(event.error)) retried++;
    }),
    safeguards.onOperationEnd((event) => {
      if (event.error && isRefusal(event.error)) failed++;
    }),
  ];
  return {
    get retried() {
      return retried;
    },
    get failed() {
      return failed;
    },
    stop() {
      for (const subscription of subscriptions) subscription.dispose();
    },
  };
}
