import { computeRetryDelay, type RetryDelayOptions } from './retry-delay.js';
import { getUserFriendlyError } from './user-friendly-error.js';

/** Options of {@link shouldRetry}. Give it the `maxDelayMs` you give {@link retryDelay}. */
export interface ShouldRetryOptions {
  /** Retries after the first failure. Default 3. */
  maxRetries?: number;
  /** A server wait longer than this (default 10 000 ms) is not waited for: the error is surfaced. */
  maxDelayMs?: number;
}

/**
 * For TanStack Query's `retry`: `retry: (count, error) => shouldRetry(count, error)`. True while the
 * server marked the error retryable, its retry-after is no longer than `maxDelayMs`, and fewer than
 * `maxRetries` retries were made. Use it for queries, and for mutations only where the procedure is
 * idempotent.
 *
 * @example
 * const queryClient = new QueryClient({
 *   defaultOptions: { queries: { retry: shouldRetry, retryDelay } },
 * });
 */
export function shouldRetry(failureCount: number, error: unknown, options: ShouldRetryOptions = {}): boolean {
  const userFriendly = getUserFriendlyError(error);
  return (
    failureCount < (options.maxRetries ?? 3) &&
    userFriendly?.retryable === true &&
    computeRetryDelay(failureCount + 1, userFriendly, {
      ...(options.maxDelayMs === undefined ? {} : { maxDelayMs: options.maxDelayMs }),
      random: () => 0,
    }) !== undefined
  );
}

/**
 * For TanStack Query's `retryDelay`: the server's retry-after (with jitter and a cap), else
 * exponential. Never sooner than the server asked: when its wait is longer than `maxDelayMs`
 * (which {@link shouldRetry} refuses), that wait itself.
 *
 * @example
 * useQuery({ ...trpc.orders.list.queryOptions(), retry: shouldRetry, retryDelay });
 */
export function retryDelay(failureCount: number, error: unknown, options: RetryDelayOptions = {}): number {
  const userFriendly = getUserFriendlyError(error);
  return computeRetryDelay(failureCount + 1, userFriendly, options) ?? userFriendly?.retryAfterMs ?? 0;
}
