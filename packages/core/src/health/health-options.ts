import { assertInteger, assertNumber, OptionError } from '../internal/validate.js';
import type { OperationScope } from '../pipeline/operation-scope.js';

/** Thresholds of the health report; the defaults are the source design's. */
export interface HealthOptions {
  /**
   * Queue fill (share of `maxQueueSize`) at which the queue is degraded. Default 0.7. A full queue is
   * load, not a fault: it is never graded unhealthy (there is no `queueUnhealthyAt`), so a load
   * balancer never takes a busy instance out and moves its load onto the others.
   */
  queueDegradedAt: number;
  /** Share of failed operations at which errors are degraded. Default 0.05. */
  errorRateDegradedAt: number;
  /** Share of failed operations at which errors are unhealthy. Default 0.1. */
  errorRateUnhealthyAt: number;
  /** The window the error rate is measured over. Default 5 minutes. */
  errorRateWindowMs: number;
  /** Operations needed in the window before the error rate counts. Default 20. */
  errorRateMinimumOperations: number;
  /** Database response time (p95, or the probe's) at which latency is degraded. Default 2 000 ms. */
  latencyDegradedMs: number;
  /** ... and unhealthy. Default 5 000 ms. */
  latencyUnhealthyMs: number;
  /**
   * An optional database probe (e.g. `select 1`), run on the CRITICAL reserve when a report asks for
   * it, so a health check gets through even when every ordinary slot is busy.
   */
  probe: ((scope: OperationScope) => Promise<unknown>) | undefined;
  /** Time limit of the probe. Default 2 000 ms. */
  probeTimeoutMs: number;
}

export const defaultHealthOptions: Readonly<HealthOptions> = {
  queueDegradedAt: 0.7,
  errorRateDegradedAt: 0.05,
  errorRateUnhealthyAt: 0.1,
  errorRateWindowMs: 300_000,
  errorRateMinimumOperations: 20,
  latencyDegradedMs: 2000,
  latencyUnhealthyMs: 5000,
  probe: undefined,
  probeTimeoutMs: 2000,
};

export function resolveHealthOptions(options: Partial<HealthOptions> = {}): HealthOptions {
  if ('queueUnhealthyAt' in options)
    throw new OptionError(
      'health.queueUnhealthyAt',
      'absent: a full queue is load, not a fault, and is graded degraded at most (health.queueDegradedAt)',
      (options as Record<string, unknown>).queueUnhealthyAt,
    );
  const resolved = { ...defaultHealthOptions, ...options };
  assertNumber('health.queueDegradedAt', resolved.queueDegradedAt, 0, 1);
  assertNumber('health.errorRateDegradedAt', resolved.errorRateDegradedAt, 0, 1);
  assertNumber('health.errorRateUnhealthyAt', resolved.errorRateUnhealthyAt, resolved.errorRateDegradedAt, 1);
  assertInteger('health.errorRateWindowMs', resolved.errorRateWindowMs, 1);
  assertInteger('health.errorRateMinimumOperations', resolved.errorRateMinimumOperations, 1);
  assertNumber('health.latencyDegradedMs', resolved.latencyDegradedMs, 0);
  assertNumber('health.latencyUnhealthyMs', resolved.latencyUnhealthyMs, resolved.latencyDegradedMs);
  assertInteger('health.probeTimeoutMs', resolved.probeTimeoutMs, 1);
  return resolved;
}
