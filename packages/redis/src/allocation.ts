/**
 * `@db-safeguards/redis/allocation`: the building blocks under `createRedisBudget`, for simulations
 * and for running the budget's allocation somewhere other than Redis. Not needed to use the budget.
 */
export {
  type AllocationReply,
  type AllocationRequest,
  type AllocationStatus,
  allocate,
  type BudgetMeta,
  type BudgetState,
  bandCount,
  emptyBudgetState,
  type FairShare,
  fairShare,
  growthHoldMs,
  type LeaseRecord,
  type RedisEnvironment,
  type Suspect,
  suspectsPerReply,
} from './budget/allocation.js';
export { allocationLua } from './budget/allocation-script.js';
export type { BudgetConnection } from './budget/budget-connection.js';
export { redisBudgetExchange } from './budget/create-redis-budget.js';
export { type BudgetExchange, LeasedConnectionBudget } from './budget/leased-connection-budget.js';
export { type ReapReply, type ReapRequest, reap } from './budget/reaping.js';
export { reapLua } from './budget/reaping-script.js';
export { RedisBudgetConnection } from './budget/redis-budget-connection.js';
export { budgetKeys } from './budget/stored-budget.js';
