import { assertNumber } from '../internal/validate.js';

/** Load readings that tighten rate limits. The source design's `adjustLimits` input, in its units. */
export interface LoadReading {
  /** Share of the connection budget in use, in percent (0–100; waiting callers count as 100). */
  connectionUsage?: number;
  /** Recent database response time in ms (p95). */
  responseTime?: number;
  /** Recent share of failed operations, in percent. */
  errorRate?: number;
}

export interface AdaptiveOptions {
  /** Lowest multiplier limits may shrink to. Default 0.25. */
  minMultiplier: number;
  /** How much the multiplier may grow back per adjustment once load eases. Default 0.1. */
  relaxStep: number;
  /** Minimum time between automatic adjustments. Default 1 000 ms. */
  intervalMs: number;
  /**
   * How long load must last before limits tighten. A burst (one client's flood filling the queue for
   * a moment) is what the queue and the limits absorb; only lasting pressure tightens, and then only
   * the clients above their fair share (see `ClientTightening`). Default 5 000 ms.
   */
  sustainMs: number;
}

export const defaultAdaptiveOptions: Readonly<AdaptiveOptions> = {
  minMultiplier: 0.25,
  relaxStep: 0.1,
  intervalMs: 1000,
  sustainMs: 5000,
};

export function resolveAdaptiveOptions(options: Partial<AdaptiveOptions> = {}): AdaptiveOptions {
  const resolved = { ...defaultAdaptiveOptions, ...options };
  assertNumber('rateLimits.adaptive.minMultiplier', resolved.minMultiplier, Number.MIN_VALUE, 1);
  assertNumber('rateLimits.adaptive.relaxStep', resolved.relaxStep, Number.MIN_VALUE, 1);
  assertNumber('rateLimits.adaptive.intervalMs', resolved.intervalMs, 0);
  assertNumber('rateLimits.adaptive.sustainMs', resolved.sustainMs, 0);
  return resolved;
}

/**
 * The multiplier the readings call for: each pressure at its warning level (usage 70 %, response
 * 2 s, errors 5 %) scales limits by 0.75, at its critical level (90 %, 5 s, 10 %) by 0.5; pressures
 * compound, down to `minMultiplier`. These are the thresholds the health report also uses.
 */
export function targetMultiplier(reading: LoadReading, minMultiplier: number): number {
  const factor = (value: number | undefined, warning: number, critical: number) =>
    value === undefined || Number.isNaN(value) ? 1 : value >= critical ? 0.5 : value >= warning ? 0.75 : 1;
  const target =
    factor(reading.connectionUsage, 70, 90) *
    factor(reading.responseTime, 2000, 5000) *
    factor(reading.errorRate, 5, 10);
  return Math.max(minMultiplier, target);
}

/** Tightens at once, relaxes by at most `relaxStep` per adjustment, so limits do not flap. */
export function nextMultiplier(current: number, target: number, relaxStep: number): number {
  return target < current ? target : Math.min(target, current + relaxStep);
}
