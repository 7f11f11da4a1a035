/**
 * @db-safeguards/core/advanced: the building blocks a `Safeguards` instance is made of, for code that
 * builds its own pipeline, implements a store or a driver wrapper, or tests one part alone: the
 * connection budget, the circuit breakers, the rate limiter and its store, the retry budget, the
 * failure policy, the defaults of every option, and the clock. An app calls the main entry.
 */

export type { BreakerMode, BreakerOptions } from './breaker/breaker-options.js';
export { defaultBreakerDefinitions } from './breaker/breaker-options.js';
export type { BreakerDefinitions } from './breaker/breaker-registry.js';
export { BreakerRegistry } from './breaker/breaker-registry.js';
export type { BreakerPermit, BreakerStats, BreakerTransitionReason } from './breaker/circuit-breaker.js';
export { CircuitBreaker } from './breaker/circuit-breaker.js';
export type { AdaptiveConcurrencyStats } from './capacity/adaptive-concurrency.js';
export { AdaptiveConcurrency } from './capacity/adaptive-concurrency.js';
export type { CapacityOptions } from './capacity/capacity-options.js';
export { defaultCapacityOptions } from './capacity/capacity-options.js';
export { isCapacitySignal } from './capacity/capacity-signal.js';
export { readConnectionLimit } from './capacity/connection-limit.js';
export { EffectiveLimit } from './capacity/effective-limit.js';
export { peerShare } from './capacity/peer-share.js';
export type { ReadOnlyStatus } from './degradation/read-only-mode.js';
export { ReadOnlyMode } from './degradation/read-only-mode.js';
export type { ErrorTypeDefaults } from './errors/error-type.js';
export { errorTypeDefaults, isUnavailableType } from './errors/error-type.js';
export { createErrorId } from './errors/safeguard-error.js';
export type { ErrorLogEntry, RefusalBurst } from './health/error-log.js';
export { ErrorLog } from './health/error-log.js';
export type { HealthOptions } from './health/health-options.js';
export { defaultHealthOptions } from './health/health-options.js';
export type { ComponentHealth, HealthAlert, ProbeResult } from './health/health-report.js';
export type { AmbientStorage } from './internal/ambient.js';
export type { TimerHandle } from './internal/clock.js';
export { systemClock } from './internal/clock.js';
export type { Percentiles } from './internal/sample-window.js';
export { LoadMonitor } from './load/load-monitor.js';
export { defaultLoadOptions } from './load/load-options.js';
export type { AdmissionGate } from './pipeline/admission-gate.js';
export { isInfrastructureFailure, isRetryAllowed } from './pipeline/failure-policy.js';
export { isPriority } from './priority.js';
export type {
  AbandonEvent,
  AcquireOptions,
  Lease,
  LeaseOutcome,
  QueueStats,
  QueueTimeoutEvent,
  ShedEvent,
  ShedReason,
} from './queue/connection-queue.js';
export { ConnectionQueue } from './queue/connection-queue.js';
export type { QueueOptions } from './queue/queue-options.js';
export { defaultQueueOptions } from './queue/queue-options.js';
export type { AdaptiveOptions, LoadReading } from './rate-limit/adaptive-limits.js';
export { defaultAdaptiveOptions, targetMultiplier } from './rate-limit/adaptive-limits.js';
export type { MemoryRateLimitStoreOptions } from './rate-limit/memory-rate-limit-store.js';
export { MemoryRateLimitStore } from './rate-limit/memory-rate-limit-store.js';
export { rateLimitKey } from './rate-limit/rate-limit-key.js';
export type { DefaultRateLimitPolicyName } from './rate-limit/rate-limit-policy.js';
export { defaultRateLimitPolicies } from './rate-limit/rate-limit-policy.js';
export type { RateLimiterStats, RateLimitOptions } from './rate-limit/rate-limiter.js';
export { RateLimiter } from './rate-limit/rate-limiter.js';
export { backoffDelay } from './retry/backoff.js';
export type { RetryBudgetStats } from './retry/retry-budget.js';
export { RetryBudget } from './retry/retry-budget.js';
export type { RetryBudgetOptions, RetryOptions } from './retry/retry-options.js';
export { defaultRetryOptions } from './retry/retry-options.js';
export type { CapacityStats } from './safeguards-metrics.js';
