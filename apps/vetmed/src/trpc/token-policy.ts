import type { RateLimitPolicy } from '@db-safeguards/core';

/** The rate-limit policy that bearer tokens no user holds are charged to, per client IP. */
export const tokenPolicyName = 'token';

/**
 * Default of the `token` policy: 20 unknown bearer tokens per IP in 15 minutes (`RATE_LIMIT_TOKEN_MAX`
 * changes the number). Kept apart from `auth` (sign-in, 5 per 15 minutes): a client still sending a
 * stale token must not use up its IP's sign-ins, which would lock it out of signing in again.
 */
export const defaultTokenPolicy: RateLimitPolicy = { limit: 20, windowMs: 15 * 60_000 };
