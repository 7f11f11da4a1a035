/**
 * @db-safeguards/core: one priority connection budget per process, circuit breakers, retries, rate
 * limits, typed PostgreSQL-aware errors, degradation helpers and health, for apps on scarce
 * database connections. The public API is this list; nothing else is supported.
 */

export type { BreakerMode, BreakerOptions } from './breaker/breaker-options.js';
export { defaultBreakerDefinitions } from './breaker/breaker-options.js';
export type { BreakerDefinitions } from './breaker/breaker-registry.js';
export { BreakerRegistry } from './breaker/breaker-registry.js';
export { BreakerState } from './breaker/breaker-state.js';
export type {
  BreakerPermit,
  BreakerStateChange,
  BreakerStats,
  BreakerTransitionReason,
} from './breaker/circuit-breaker.js';
// Circuit breakers
export { CircuitBreaker } from './breaker/circuit-breaker.js';
export {
  environmentVariables,
  SafeguardsConfigError,
  safeguardsOptionsFromEnv,
} from './config/env-config.js';
// Configuration
export type { SafeguardsOptions } from './config/safeguards-options.js';
export { getDefaultSafeguards, setDefaultSafeguards, withDatabaseSafeguards } from './default-instance.js';
export type { PartialResult } from './degradation/partial-results.js';
export { gatherPartial } from './degradation/partial-results.js';
export type { ReadOnlyStatus } from './degradation/read-only-mode.js';
export { ReadOnlyMode } from './degradation/read-only-mode.js';
export type { Degradable, StaleCacheOptions } from './degradation/stale-cache.js';
// Degradation
export { StaleCache } from './degradation/stale-cache.js';
export type { DeferWrite, WriteOutcome } from './degradation/write-deferral.js';
export { applyOrDefer } from './degradation/write-deferral.js';
export { classifyError } from './errors/classify-error.js';
export type { AppErrorReasons, ErrorReason } from './errors/error-reason.js';
export type { ErrorTypeDefaults } from './errors/error-type.js';
// Errors
export { ErrorType, errorTypeDefaults, isUnavailableType, Severity } from './errors/error-type.js';
export type { RateLimitInfo, SafeguardErrorInit, ValidationIssue } from './errors/safeguard-error.js';
export { createErrorId, isSafeguardError, SafeguardError } from './errors/safeguard-error.js';
export type { UserFriendlyError } from './errors/user-friendly-error.js';
export { toUserFriendlyError } from './errors/user-friendly-error.js';
export type { ErrorLogEntry } from './health/error-log.js';
export { ErrorLog } from './health/error-log.js';
export type { HealthOptions } from './health/health-options.js';
export { defaultHealthOptions } from './health/health-options.js';
// Health and metrics
export type {
  ComponentHealth,
  HealthAlert,
  HealthReport,
  HealthStatus,
  ProbeResult,
} from './health/health-report.js';
export type { AmbientStorage } from './internal/ambient.js';
export type { Clock, TimerHandle } from './internal/clock.js';
// Plumbing consumers may implement or inject
export { systemClock } from './internal/clock.js';
export type { Disposable, Event } from './internal/events.js';
export type { Percentiles } from './internal/sample-window.js';
export type { OperationType, RequestIdentity, RunContext } from './operation-context.js';
export { isInfrastructureFailure, isRetryAllowed } from './pipeline/failure-policy.js';
export type { OperationScope } from './pipeline/operation-scope.js';
export type { ResolvedContext } from './pipeline/resolved-context.js';
export type { PriorityName } from './priority.js';
export { isPriority, Priority, parsePriority, priorities, priorityName } from './priority.js';
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
// The connection budget
export { ConnectionQueue } from './queue/connection-queue.js';
export type { QueueOptions } from './queue/queue-options.js';
export { defaultQueueOptions } from './queue/queue-options.js';
export type { AdaptiveOptions, LoadReading } from './rate-limit/adaptive-limits.js';
export { defaultAdaptiveOptions, targetMultiplier } from './rate-limit/adaptive-limits.js';
export type { MemoryRateLimitStoreOptions } from './rate-limit/memory-rate-limit-store.js';
export { MemoryRateLimitStore } from './rate-limit/memory-rate-limit-store.js';
export type { RateLimitHeaders } from './rate-limit/rate-limit-headers.js';
export { rateLimitHeaders } from './rate-limit/rate-limit-headers.js';
export { rateLimitKey } from './rate-limit/rate-limit-key.js';
export type { DefaultRateLimitPolicyName, RateLimitPolicy } from './rate-limit/rate-limit-policy.js';
export { defaultRateLimitPolicies } from './rate-limit/rate-limit-policy.js';
export type { RateLimitDecision, RateLimitStore } from './rate-limit/rate-limit-store.js';
export type { RateLimiterStats, RateLimitOptions, RateLimitResult } from './rate-limit/rate-limiter.js';
// Rate limiting
export { RateLimiter } from './rate-limit/rate-limiter.js';
// Retries
export { backoffDelay } from './retry/backoff.js';
export type { RetryBudgetStats } from './retry/retry-budget.js';
export { RetryBudget } from './retry/retry-budget.js';
export type { RetryBudgetOptions, RetryOptions } from './retry/retry-options.js';
export { defaultRetryOptions } from './retry/retry-options.js';
export type {
  Admission,
  Operation,
  OperationEndEvent,
  RejectionEvent,
  RetryEvent,
  WithContextResult,
} from './safeguards.js';
// The pipeline
export { createSafeguards, Safeguards } from './safeguards.js';
export type { SafeguardsMetrics } from './safeguards-metrics.js';
