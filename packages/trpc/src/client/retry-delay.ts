import type { UserFriendlyErrorData } from '../user-friendly-data.js';

export interface RetryDelayOptions {
  /** Wait before the first retry when the server gave no retry-after; it doubles per retry. Default 250 ms. */
  baseDelayMs?: number;
  /** Longest single wait. Default 10 000 ms. */
  maxDelayMs?: number;
  /** Random extra wait, as a share of the delay, so clients told the same retry-after do not return together. Default 0.2. */
  jitter?: number;
  random?: () => number;
}

/**
 * How long to wait before retry number `retry` (1 for the first): the server's `retryAfterMs` when it
 * gave one, else exponential from `baseDelayMs`; plus jitter; capped at `maxDelayMs`.
 */
export function computeRetryDelay(
  retry: number,
  userFriendly: UserFriendlyErrorData | undefined,
  options: RetryDelayOptions = {},
): number {
  const base = options.baseDelayMs ?? 250;
  const cap = options.maxDelayMs ?? 10_000;
  const jitter = options.jitter ?? 0.2;
  const random = options.random ?? Math.random;
  const planned = userFriendly?.retryAfterMs ?? base * 2 ** Math.max(0, retry - 1);
  return Math.round(Math.min(cap, planned * (1 + jitter * random())));
}
