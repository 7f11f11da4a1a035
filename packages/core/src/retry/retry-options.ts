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

export function resolveRetryOptions(options: Partial<RetryOptions> = {}): RetryOptions {
  const resolved: RetryOptions = {
    ...defaultRetryOptions,
    ...options,
    budget:
      options.budget === false
        ? false
        : { ...(defaultRetryOptions.budget as RetryBudgetOptions), ...options.budget },
  };
  assertInteger('retry.maxAttempts', resolved.maxAttempts, 1, 100);
  assertInteger('retry.baseDelayMs', resolved.baseDelayMs, 0);
  assertInteger('retry.maxDelayMs', resolved.maxDelayMs, 0);
  assertOneOf('retry.jitter', resolved.jitter, ['equal', 'full', 'none']);
  if (resolved.budget) {
    assertNumber('retry.budget.ratio', resolved.budget.ratio, 0);
    assertNumber('retry.budget.minPerSecond', resolved.budget.minPerSecond, 0);
    assertInteger('retry.budget.windowMs', resolved.budget.windowMs, 1);
  }
  return resolved;
}
