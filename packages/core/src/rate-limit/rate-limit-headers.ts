import type { RateLimitResult } from './rate-limiter.js';

/** The standard headers for a rate-limit result. */
export interface RateLimitHeaders {
  'X-RateLimit-Limit': string;
  'X-RateLimit-Remaining': string;
  /** Epoch seconds when every counted request has left the window. */
  'X-RateLimit-Reset': string;
  /** Whole seconds to wait; only on a refused request. */
  'Retry-After'?: string;
}

/** Response headers for `result`: the three X-RateLimit headers, plus Retry-After when it was refused. */
export function rateLimitHeaders(result: RateLimitResult): RateLimitHeaders {
  const headers: RateLimitHeaders = {
    'X-RateLimit-Limit': String(result.limit),
    'X-RateLimit-Remaining': String(result.remaining),
    'X-RateLimit-Reset': String(Math.ceil(result.resetAt / 1000)),
  };
  if (!result.allowed) headers['Retry-After'] = String(Math.max(1, Math.ceil(result.retryAfterMs / 1000)));
  return headers;
}
