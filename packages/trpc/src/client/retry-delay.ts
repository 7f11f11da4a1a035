import type { UserFriendlyErrorData } from '../user-friendly-data.js';

export interface RetryDelayOptions {
  /** Wait before the first retry when the server gave no retry-after; it doubles per retry. Default 250 ms. */
  baseDelayMs?: number;
  /**
   * Longest single wait. Default 10 000 ms. When the server asks for a longer wait (an open breaker,
   * a rate limit's window), the call is not retried: a retry before then is certain to fail.
   */
  maxDelayMs?: number;
  /** Random extra wait, as a share of the delay, so clients told the same retry-after do not return together. Default 0.2. */
  jitter?: number;
  random?: () => number;
}

/**
 * How long to wait before retry number `retry` (1 for the first): the server's `retryAfterMs` when it
 * gave one, else exponential from `baseDelayMs`; plus jitter; capped at `maxDelayMs` but never below
 * the server's wait. `undefined` when the server's wait is longer than `maxDelayMs`: do not retry.
 *
 * @example
 * const delayMs = computeRetryDelay(attempt, getUserFriendlyError(error), { maxDelayMs: 5_000 });
 * if (delayMs !== undefined) setTimeout(retry, delayMs);
 */
export function computeRetryDelay(
  retry: number,
  userFriendly: UserFriendlyErrorData | undefined,
  options: RetryDelayOptions = {},
): number | undefined {
  const base = options.baseDelayMs ?? 250;
  const cap = options.maxDelayMs ?? 10_000;
  const jitter = options.jitter ?? 0.2;
  const random = options.random ?? Math.random;
  const serverWait = userFriendly?.retryAfterMs ?? undefined;
  if (serverWait !== undefined && serverWait > cap) return undefined;
  const planned = serverWait ?? base * 2 ** Math.max(0, retry - 1);
  return Math.round(Math.min(cap, planned * (1 + jitter * random())));
}
