import { assertInteger, assertNumber, assertOneOf } from '../internal/validate.js';

/** Caps retries at a share of recent requests, so retries cannot multiply load during an outage. */
export interface RetryBudgetOptions {
  /** Retries allowed per request in the window (0.2: one retry for every five requests). Default 0.2. */
  ratio: number;
  /** Retries always allowed per second of window, so a quiet service can still retry. Default 5. */
  minPerSecond: number;
  /** The window requests and retries are counted over. Default 10 000 ms. */
  windowMs: number;
}

export interface RetryOptions {
  /** Attempts in all, the first included. Env `DB_MAX_ATTEMPTS`. Default 3; 1 turns retrying off. */
  maxAttempts: number;
  /** First backoff delay; it doubles per retry. Env `DB_RETRY_DELAY_MS`. Default 100. */
  baseDelayMs: number;
  /** Upper bound of one delay. Default 10 000. */
  maxDelayMs: number;
  /** 'equal': half the delay fixed, half random (default). 'full': all random. 'none': exact. */
  jitter: 'equal' | 'full' | 'none';
  /** The retry budget; `false` turns it off. */
  budget: RetryBudgetOptions | false;
}

export const defaultRetryOptions: Readonly<RetryOptions> = {
  maxAttempts: 3,
  baseDelayMs: 100,
  maxDelayMs: 10_000,
  jitter: 'equal',
  budget: { ratio: 0.2, minPerSecond: 5, windowMs: 10_000 },
};

/**
 * Bounds of the retry options, shared with the environment reader so `DB_MAX_ATTEMPTS` and
 * `DB_RETRY_DELAY_MS` are refused at start by the same rule that would refuse the option.
 */
export const retryBounds = {
  maxAttempts: { min: 1, max: 100 },
  baseDelayMs: { min: 0, max: Number.MAX_SAFE_INTEGER },
  maxDelayMs: { min: 0, max: Number.MAX_SAFE_INTEGER },
} as const;

export function resolveRetryOptions(options: Partial<RetryOptions> = {}): RetryOptions {
  const resolved: RetryOptions = {
    ...defaultRetryOptions,
    ...options,
    budget:
      options.budget === false
        ? false
        : { ...(defaultRetryOptions.budget as RetryBudgetOptions), ...options.budget },
  };
  const { maxAttempts, baseDelayMs, maxDelayMs } = retryBounds;
  assertInteger('retry.maxAttempts', resolved.maxAttempts, maxAttempts.min, maxAttempts.max);
  assertInteger('retry.baseDelayMs', resolved.baseDelayMs, baseDelayMs.min, baseDelayMs.max);
  assertInteger('retry.maxDelayMs', resolved.maxDelayMs, maxDelayMs.min, maxDelayMs.max);
  assertOneOf('retry.jitter', resolved.jitter, ['equal', 'full', 'none']);
  if (resolved.budget) {
    assertNumber('retry.budget.ratio', resolved.budget.ratio, 0);
    assertNumber('retry.budget.minPerSecond', resolved.budget.minPerSecond, 0);
    assertInteger('retry.budget.windowMs', resolved.budget.windowMs, 1);
  }
  return resolved;
}
