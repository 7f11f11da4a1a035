import { assertInteger } from '../internal/validate.js';

/** At most `limit` requests per key in any `windowMs`-long stretch of time. */
export interface RateLimitPolicy {
  limit: number;
  windowMs: number;
}

const minute = 60_000;

/**
 * The source design's named policies. The limit of each can be overridden from the environment with
 * `RATE_LIMIT_<NAME>_MAX` (`RATE_LIMIT_API_MAX`, `RATE_LIMIT_AUTH_MAX`, `RATE_LIMIT_HEAVY_MAX`,
 * `RATE_LIMIT_RECORDING_MAX`, `RATE_LIMIT_UPLOAD_MAX`, `RATE_LIMIT_REPORTS_MAX`); the windows are fixed.
 */
export const defaultRateLimitPolicies = {
  /** General API calls: 100 per minute. */
  api: { limit: 100, windowMs: minute },
  /** Sign-in attempts: 5 per 15 minutes. */
  auth: { limit: 5, windowMs: 15 * minute },
  /** Database-heavy operations: 10 per minute. */
  heavy: { limit: 10, windowMs: minute },
  /** Recording the app's main event, the write users make most: 30 per minute. */
  recording: { limit: 30, windowMs: minute },
  /** File uploads: 10 per 5 minutes. */
  upload: { limit: 10, windowMs: 5 * minute },
  /** Reports and exports: 5 per minute. */
  reports: { limit: 5, windowMs: minute },
} as const satisfies Record<string, RateLimitPolicy>;

export type DefaultRateLimitPolicyName = keyof typeof defaultRateLimitPolicies;

export function validatePolicy(name: string, policy: RateLimitPolicy): void {
  assertInteger(`rateLimits.policies.${name}.limit`, policy?.limit, 1);
  assertInteger(`rateLimits.policies.${name}.windowMs`, policy?.windowMs, 1);
}
