/**
 * The `Retry-After` header value for a wait of `retryAfterMs`: whole seconds, rounded up, at least 1
 * (the rounding of the core's `rateLimitHeaders`).
 */
export function retryAfterHeader(retryAfterMs: number): string {
  return String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
}
