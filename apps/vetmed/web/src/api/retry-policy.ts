import { computeRetryDelay } from '@db-safeguards/trpc/client';
import { appStatus } from './app-status.js';
import { toFriendlyError } from './friendly-error.js';

/**
 * Automatic retries, for queries and idempotent mutations only (recording a dose with its key,
 * importing rows with theirs): never for a mutation that could apply twice.
 */
export interface RetryPolicy {
  /** Retries after the first failure. */
  maxRetries: number;
  /** A server's wait longer than this is not waited for automatically: the person decides. */
  maxWaitMs: number;
}

/** Reads retry every few seconds through a short outage, then leave it to the person. */
export const queryRetryPolicy: RetryPolicy = { maxRetries: 6, maxWaitMs: 60_000 };
/** A recorded dose keeps trying longer: the person has moved on, the dose must still get there. */
export const doseRetryPolicy: RetryPolicy = { maxRetries: 12, maxWaitMs: 60_000 };

/**
 * When each failed call will be tried again (epoch ms), by its error: what the countdown shows. Set
 * when a retry is planned, so the page counts down to the moment the retry really starts.
 */
const plannedRetries = new WeakMap<object, number>();

/** When the call that failed with `error` will be retried automatically, if it will. */
export function retryTimeOf(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null ? plannedRetries.get(error) : undefined;
}

/** The wait before retry number `failureCount + 1`, or undefined for no retry. */
function plannedDelay(policy: RetryPolicy, failureCount: number, error: unknown): number | undefined {
  const friendly = toFriendlyError(error);
  if (!friendly.retryable || failureCount >= policy.maxRetries) return undefined;
  // The server's `retryAfterMs` (with jitter, so clients told the same wait do not return together),
  // else 1 s doubling to 30 s; undefined when the server asks for longer than `maxWaitMs`.
  const serverData =
    friendly.origin === 'server' ? { ...friendly, errorId: friendly.errorId ?? '' } : undefined;
  return computeRetryDelay(failureCount + 1, serverData, {
    baseDelayMs: 1000,
    maxDelayMs: friendly.retryAfterMs === null ? 30_000 : policy.maxWaitMs,
  });
}

/**
 * TanStack Query's `retry` and `retryDelay` for `policy`. TanStack asks for the delay first, then
 * whether to retry, with the same failure: the delay is planned once and its time kept for the
 * countdown, and forgotten when there will be no retry. Every failure also feeds the app-wide notice
 * (read-only, recovering) at once, not only the last one.
 */
export function retryOptions(policy: RetryPolicy) {
  return {
    retryDelay(failureCount: number, error: unknown): number {
      appStatus.noteError(error);
      const delay = plannedDelay(policy, failureCount, error) ?? 0;
      if (typeof error === 'object' && error !== null) plannedRetries.set(error, Date.now() + delay);
      return delay;
    },
    retry(failureCount: number, error: unknown): boolean {
      const retrying = plannedDelay(policy, failureCount, error) !== undefined;
      if (!retrying && typeof error === 'object' && error !== null) plannedRetries.delete(error);
      return retrying;
    },
  };
}
