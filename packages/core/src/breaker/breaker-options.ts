import { assertInteger, assertNumber, assertOneOf } from '../internal/validate.js';

/** How a breaker decides to open. */
export type BreakerMode = 'consecutive' | 'ratio';

/** Options of one circuit breaker. */
export interface BreakerOptions {
  /** 'consecutive': open after `failureThreshold` failures in a row. 'ratio': open when the failure rate in `windowMs` reaches `failureRateThreshold`. */
  mode: BreakerMode;
  /** Consecutive infrastructure failures that open the breaker. Env `CIRCUIT_FAILURE_THRESHOLD` (primary). */
  failureThreshold: number;
  /** Successful half-open probes that close it again. Env `CIRCUIT_SUCCESS_THRESHOLD` (primary). */
  successThreshold: number;
  /** How long it stays open before admitting probes (the source design's `timeout`). Env `CIRCUIT_TIMEOUT_MS` (primary). */
  openDurationMs: number;
  /** Probes admitted at once while half-open. Default: `successThreshold`. */
  halfOpenMaxProbes: number;
  /** Ratio mode: failure rate (0..1] that opens the breaker. Default 0.5. */
  failureRateThreshold: number;
  /** Ratio mode: the window the rate is measured over. Default 60 000 ms. */
  windowMs: number;
  /** Ratio mode: outcomes needed in the window before the rate counts. Default 10. */
  minimumRequests: number;
}

const common = {
  mode: 'consecutive',
  failureRateThreshold: 0.5,
  windowMs: 60_000,
  minimumRequests: 10,
} as const;

/**
 * The source design's breakers: `primary` for ordinary work, `critical` (more sensitive, quicker to
 * recover) for health checks and other CRITICAL work, `batch` (more tolerant, slower to trust) for bulk jobs.
 */
export const defaultBreakerDefinitions: Readonly<Record<'primary' | 'critical' | 'batch', BreakerOptions>> = {
  primary: {
    ...common,
    failureThreshold: 5,
    successThreshold: 2,
    openDurationMs: 30_000,
    halfOpenMaxProbes: 2,
  },
  critical: {
    ...common,
    failureThreshold: 3,
    successThreshold: 1,
    openDurationMs: 10_000,
    halfOpenMaxProbes: 1,
  },
  batch: {
    ...common,
    failureThreshold: 10,
    successThreshold: 3,
    openDurationMs: 60_000,
    halfOpenMaxProbes: 3,
  },
};

/** Fills in defaults (from `base`) and validates; throws a TypeError naming the option. */
export function resolveBreakerOptions(
  name: string,
  options: Partial<BreakerOptions>,
  base: BreakerOptions,
): BreakerOptions {
  const resolved: BreakerOptions = { ...base, ...options };
  if (options.halfOpenMaxProbes === undefined && options.successThreshold !== undefined) {
    resolved.halfOpenMaxProbes = options.successThreshold;
  }
  const at = `breakers.${name}`;
  assertOneOf(`${at}.mode`, resolved.mode, ['consecutive', 'ratio']);
  assertInteger(`${at}.failureThreshold`, resolved.failureThreshold, 1);
  assertInteger(`${at}.successThreshold`, resolved.successThreshold, 1);
  assertInteger(`${at}.openDurationMs`, resolved.openDurationMs, 0);
  assertInteger(`${at}.halfOpenMaxProbes`, resolved.halfOpenMaxProbes, 1);
  assertNumber(`${at}.failureRateThreshold`, resolved.failureRateThreshold, Number.MIN_VALUE, 1);
  assertInteger(`${at}.windowMs`, resolved.windowMs, 1);
  assertInteger(`${at}.minimumRequests`, resolved.minimumRequests, 1);
  return resolved;
}
