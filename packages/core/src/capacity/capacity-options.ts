import { assertInteger, assertNumber, OptionError } from '../internal/validate.js';

/**
 * How the process's concurrency adapts when the database says it is full (53300 and kin). Every
 * field has a default; see {@link defaultCapacityOptions}.
 */
export interface CapacityOptions {
  /**
   * Lower the effective limit when the database refuses a connection as full, and grow it back while
   * calls succeed. `false` keeps the configured budget whatever the database answers (the refusals
   * are still retried and still never open a breaker). Default true.
   */
  adaptive: boolean;
  /**
   * Multiplicative decrease: on a refusal the limit becomes `floor(min(limit, slots in use) × this)`,
   * at least 1. Refusals of attempts that started before the last decrease do not lower it again:
   * they were made under the old limit. Default 0.5.
   */
  decreaseFactor: number;
  /**
   * Additive increase: one slot comes back per this many ms without a refusal, added when a call
   * succeeds (so an idle process does not count as proof that the database has room). Default 1 000.
   */
  increaseIntervalMs: number;
}

export const defaultCapacityOptions: Readonly<CapacityOptions> = {
  adaptive: true,
  decreaseFactor: 0.5,
  increaseIntervalMs: 1000,
};

/** Merges `options` over the defaults and validates them; throws a TypeError naming the bad option. */
export function resolveCapacityOptions(options: Partial<CapacityOptions> = {}): CapacityOptions {
  const resolved = { ...defaultCapacityOptions, ...options };
  if (typeof resolved.adaptive !== 'boolean')
    throw new OptionError('capacity.adaptive', 'a boolean', resolved.adaptive);
  assertNumber('capacity.decreaseFactor', resolved.decreaseFactor, 0, 0.99);
  assertInteger('capacity.increaseIntervalMs', resolved.increaseIntervalMs, 1);
  return resolved;
}
