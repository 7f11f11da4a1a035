import type { RateLimitPolicy, Safeguards, SafeguardsOptions } from '@db-safeguards/core';

/** The rate-limit policy that bearer tokens no user holds are charged to, per client IP. */
export const tokenPolicyName = 'token';

/**
 * Default of the `token` policy: 20 unknown bearer tokens per IP in 15 minutes (`RATE_LIMIT_TOKEN_MAX`
 * changes the number). Kept apart from `auth` (sign-in, 5 per 15 minutes): a client still sending a
 * stale token must not use up its IP's sign-ins, which would lock it out of signing in again.
 */
export const defaultTokenPolicy: RateLimitPolicy = { limit: 20, windowMs: 15 * 60_000 };

/** The rate-limit policy of sign-in attempts per account and client IP (see `auth.signIn`). */
export const signInPolicyName = 'signin';

/**
 * Default of the `signin` policy: 5 attempts on one account from one IP (an IPv6 /64) in 15 minutes,
 * forgiven by a successful sign-in. It stands beside the per-IP `auth` limit: that one may be raised
 * for a shared NAT (`RATE_LIMIT_AUTH_MAX`), and this one still slows a client guessing one account's
 * password. It never locks the real user out: their own IP has its own count.
 */
export const defaultSignInPolicy: RateLimitPolicy = { limit: 5, windowMs: 15 * 60_000 };

/**
 * `options` with the app's `token` and `signin` policies added (`limit` per 15 minutes, default 20), for
 * `createSafeguards`. `loadEnv().safeguards` already has it; a server built on other options needs it
 * too, since every protected procedure may charge it.
 */
export function withTokenPolicy(
  options: SafeguardsOptions,
  limit = defaultTokenPolicy.limit,
): SafeguardsOptions {
  return {
    ...options,
    rateLimits: {
      ...options.rateLimits,
      policies: {
        [signInPolicyName]: defaultSignInPolicy,
        ...options.rateLimits?.policies,
        [tokenPolicyName]: { ...defaultTokenPolicy, limit },
      },
    },
  };
}

/**
 * Throws a TypeError, at start, when `safeguards` lack the `token` policy: otherwise the first unknown
 * token would fail with "Unknown rate-limit policy", a 500, instead of its 401.
 */
export function assertTokenPolicy(safeguards: Pick<Safeguards, 'rateLimiter'>): void {
  if (Object.hasOwn(safeguards.rateLimiter.policies, tokenPolicyName)) return;
  throw new TypeError(
    `The safeguards have no "${tokenPolicyName}" rate-limit policy, which the app charges unknown bearer ` +
      'tokens to: create them from loadEnv().safeguards, or with createSafeguards(withTokenPolicy(options)).',
  );
}
