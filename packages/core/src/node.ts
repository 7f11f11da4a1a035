/// <reference types="node" />
/**
 * The entry Node loads (the "node" export condition). It gives the core node:async_hooks'
 * AsyncLocalStorage before re-exporting the same public API as the runtime-agnostic main entry, so
 * nested calls find their slot on every Node >= 20, including 20.0 to 20.15, which lack
 * process.getBuiltinModule. Types come from the main entry for both conditions.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { registerAsyncLocalStorage } from './internal/ambient.js';

registerAsyncLocalStorage(AsyncLocalStorage);

export {
  applyOrDefer,
  BreakerRegistry,
  BreakerState,
  backoffDelay,
  CircuitBreaker,
  ConnectionQueue,
  classifyError,
  createErrorId,
  createSafeguards,
  defaultAdaptiveOptions,
  defaultBreakerDefinitions,
  defaultHealthOptions,
  defaultQueueOptions,
  defaultRateLimitPolicies,
  defaultRetryOptions,
  ErrorLog,
  ErrorType,
  environmentVariables,
  errorTypeDefaults,
  gatherPartial,
  getDefaultSafeguards,
  isInfrastructureFailure,
  isPriority,
  isRetryAllowed,
  isSafeguardError,
  isUnavailableType,
  MemoryRateLimitStore,
  Priority,
  parsePriority,
  priorities,
  priorityName,
  RateLimiter,
  ReadOnlyMode,
  RetryBudget,
  rateLimitHeaders,
  rateLimitKey,
  SafeguardError,
  Safeguards,
  SafeguardsConfigError,
  Severity,
  StaleCache,
  safeguardsOptionsFromEnv,
  setDefaultSafeguards,
  systemClock,
  targetMultiplier,
  toUserFriendlyError,
  withDatabaseSafeguards,
} from './index.js';
