/**
 * @db-safeguards/redis: one connection budget and one set of rate limits for many instances of an
 * app, kept in Redis. The public API is this list.
 */

export type { BudgetConnection } from './budget/budget-connection.js';
export type { RedisBudgetOptions } from './budget/create-redis-budget.js';
// The shared connection budget
export { createRedisBudget } from './budget/create-redis-budget.js';
export type { LeasedBudgetOptions } from './budget/leased-connection-budget.js';
export { LeasedConnectionBudget } from './budget/leased-connection-budget.js';
export type { RedisScriptClient } from './internal/redis-script.js';
export type {
  RedisRateLimitStoreOptions,
  RedisRateLimitStoreStats,
} from './rate-limit/redis-rate-limit-store.js';
// Shared rate limits
export { RedisRateLimitStore } from './rate-limit/redis-rate-limit-store.js';
// The interface the core consumes
export type {
  DemandSnapshot,
  SharedBudgetLimitChange,
  SharedBudgetMode,
  SharedBudgetModeChange,
  SharedBudgetStats,
  SharedConnectionBudget,
} from './shared-connection-budget.js';
