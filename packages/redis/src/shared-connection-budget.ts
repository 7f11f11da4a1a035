/**
 * The interface a shared budget implements is the core's (`createSafeguards({ shared })` consumes it);
 * re-exported here so code written against this package keeps its imports.
 */
export type {
  DemandSnapshot,
  SharedBudgetLimitChange,
  SharedBudgetMode,
  SharedBudgetModeChange,
  SharedBudgetStats,
  SharedConnectionBudget,
} from '@db-safeguards/core';
