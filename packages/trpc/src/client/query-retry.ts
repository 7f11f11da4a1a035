import { computeRetryDelay, type RetryDelayOptions } from './retry-delay.js';
import { getUserFriendlyError } from './user-friendly-error.js';

/**
 * For TanStack Query's `retry`: `retry: (count, error) => shouldRetry(count, error)`. True while the
 * server marked the error retryable and fewer than `maxRetries` retries were made. Use it for queries,
 * and for mutations only where the procedure is idempotent.
 */
export function shouldRetry(
  failureCount: number,
  error: unknown,
  options: { maxRetries?: number } = {},
): boolean {
  return failureCount < (options.maxRetries ?? 3) && getUserFriendlyError(error)?.retryable === true;
}

/** For TanStack Query's `retryDelay`: the server's retry-after (with jitter and a cap), else exponential. */
export function retryDelay(failureCount: number, error: unknown, options: RetryDelayOptions = {}): number {
  return computeRetryDelay(failureCount + 1, getUserFriendlyError(error), options);
}
