/**
 * @db-safeguards/core: one priority connection budget per process, circuit breakers, retries, rate
 * limits, typed PostgreSQL-aware errors, degradation helpers and health, for apps on scarce
 * database connections. This list is the API a user calls; the building blocks it is made of (the
 * queue, the breakers, the rate limiter, the retry budget, their defaults) are in
 * `@db-safeguards/core/advanced`.
 */

export { BreakerState } from './breaker/breaker-state.js';
export type { BreakerStateChange } from './breaker/circuit-breaker.js';
export type {
  ConnectionLimitCheckOptions,
  ConnectionLimitReading,
  ConnectionLimitWarning,
} from './capacity/connection-limit.js';
export {
  ConnectionLimitExceededError,
  checkConnectionLimit,
  connectionLimitQuery,
} from './capacity/connection-limit.js';
export type { LimitChange } from './capacity/effective-limit.js';
export type {
  PeerLimitTarget,
  PeerWatch,
  PeerWatchOptions,
  PeerWatchStats,
} from './capacity/peer-share.js';
export { peerApplicationName, peerInstancesQuery, watchPeerInstances } from './capacity/peer-share.js';
export type {
  DemandSnapshot,
  SharedBudgetLimitChange,
  SharedBudgetMode,
  SharedBudgetModeChange,
  SharedBudgetStats,
  SharedConnectionBudget,
} from './capacity/shared-budget.js';
export {
  environmentVariables,
  SafeguardsConfigError,
  safeguardsOptionsFromEnv,
} from './config/env-config.js';
export type { SafeguardsOptions } from './config/safeguards-options.js';
export { getDefaultSafeguards, setDefaultSafeguards, withDatabaseSafeguards } from './default-instance.js';
export type { PartialResult } from './degradation/partial-results.js';
export { gatherPartial } from './degradation/partial-results.js';
export type { Degradable, StaleCacheOptions } from './degradation/stale-cache.js';
export { StaleCache } from './degradation/stale-cache.js';
export type { DeferWrite, WriteOutcome } from './degradation/write-deferral.js';
export { applyOrDefer } from './degradation/write-deferral.js';
export { classifyError } from './errors/classify-error.js';
export type { AppErrorReasons, ErrorReason } from './errors/error-reason.js';
export { ErrorType, Severity } from './errors/error-type.js';
export type { RateLimitInfo, SafeguardErrorInit, ValidationIssue } from './errors/safeguard-error.js';
export { isSafeguardError, SafeguardError } from './errors/safeguard-error.js';
export type { UserFriendlyError } from './errors/user-friendly-error.js';
export { toUserFriendlyError } from './errors/user-friendly-error.js';
export type { HealthReport, HealthStatus } from './health/health-report.js';
export type { Clock } from './internal/clock.js';
export type { Disposable, Event } from './internal/events.js';
export type { LoadCause, LoadStats } from './load/load-monitor.js';
export type { LoadMarks, LoadOptions, LoadSignal, SheddablePriorityName } from './load/load-options.js';
export type { LoadSample, LoadSamplePurpose, LoadSampler } from './load/load-sampler.js';
export type { ProcessLoadSamplerOptions } from './load/process-load-sampler.js';
export { createProcessLoadSampler } from './load/process-load-sampler.js';
export type { OperationType, RequestIdentity, RunContext } from './operation-context.js';
export type { Operation, OperationEndEvent, RejectionEvent, RetryEvent } from './pipeline/operation.js';
export type { OperationScope } from './pipeline/operation-scope.js';
export type { WithContextResult } from './pipeline/pipeline.js';
export type { ResolvedContext } from './pipeline/resolved-context.js';
export type { PriorityName } from './priority.js';
export { Priority, parsePriority, priorities, priorityName } from './priority.js';
export type { RateLimitHeaders } from './rate-limit/rate-limit-headers.js';
export { rateLimitHeaders } from './rate-limit/rate-limit-headers.js';
export type { RateLimitPolicy } from './rate-limit/rate-limit-policy.js';
export type { RateLimitDecision, RateLimitStore } from './rate-limit/rate-limit-store.js';
export type { RateLimitResult } from './rate-limit/rate-limiter.js';
export type { Admission } from './safeguards.js';
export { createSafeguards, Safeguards } from './safeguards.js';
export type { SafeguardsMetrics } from './safeguards-metrics.js';
