/** A store's answer to one hit. */
export interface RateLimitDecision {
  allowed: boolean;
  /** Hits counted in the window, this one included when allowed. */
  count: number;
  /** When every hit now counted will have left the window (epoch ms). */
  resetAt: number;
  /** When denied: how long until a hit would be allowed. 0 when allowed. */
  retryAfterMs: number;
}

/**
 * Where rate-limit counts live. The in-memory store serves one process; a shared store (Redis) lets
 * many instances share one set of limits. `hit` must decide and count atomically, and may answer
 * synchronously (in memory) or with a promise (over the network).
 */
export interface RateLimitStore {
  hit(
    key: string,
    limit: number,
    windowMs: number,
    now: number,
  ): RateLimitDecision | Promise<RateLimitDecision>;
  /** Forgets a key (e.g. after a successful sign-in). */
  reset(key: string): void | Promise<void>;
  /** Keys currently tracked, when the store can tell. */
  readonly size?: number;
}
