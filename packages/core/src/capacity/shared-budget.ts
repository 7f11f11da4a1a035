import type { Event } from '../internal/events.js';
import type { PriorityName } from '../priority.js';

/**
 * A connection budget shared by many instances of an app (`createSafeguards({ shared })`), such as
 * `@db-safeguards/redis`'s leased budget. The core defines it and depends on nothing that implements
 * it. The instance then holds at most `min(its adaptive limit, shared.limit)` slots (the `shared`
 * input of its effective limit), reports its demand on every change, and shows `mode` and
 * `isDegraded` in health and metrics.
 *
 * The contract, for whoever implements or consumes it:
 * - `limit` is how many slots this instance may hold right now. It may drop below the slots held: the
 *   holder then starts nothing new until it is back under it (the budget keeps the excess reserved for
 *   it meanwhile, so nobody else gets those slots). It is never negative; it is 0 while the instance
 *   waits for its first grant, and at least 1 in `fallback`.
 * - `reportDemand` is cheap (no I/O on the caller's path): call it whenever slots are taken or
 *   released or waiters come and go. The budget decides when to talk to Redis.
 * - `onLimitChange` fires after every change of `limit` (not on every refresh); a queue that was
 *   holding waiters back should dispatch when the limit grows.
 * - `isDegraded` is true while the instance runs on its fallback limit because Redis is unreachable:
 *   health should say degraded (206), never down. Pressure (a limit of 0 because others hold the
 *   capacity) is not degradation.
 */
export interface SharedConnectionBudget {
  /** Slots this instance may hold right now. */
  readonly limit: number;
  /** Where the limit comes from; see {@link SharedBudgetMode}. */
  readonly mode: SharedBudgetMode;
  /** True in `fallback`: Redis is unreachable and the limit is local. */
  readonly isDegraded: boolean;
  /** Tells the budget what this instance holds and wants now. Cheap; call on every change. */
  reportDemand(demand: DemandSnapshot): void;
  /** Fires when `limit` changes. */
  readonly onLimitChange: Event<SharedBudgetLimitChange>;
  /** Fires when `mode` changes. */
  readonly onModeChange: Event<SharedBudgetModeChange>;
  /** A live readout for health and metrics. */
  stats(): SharedBudgetStats;
  /** Gives this instance's slots back at once (instead of when its lease runs out) and stops. */
  close(): Promise<void>;
}

/**
 * - `connecting`: no valid lease yet (start-up, or a lease that ran out before it could be renewed);
 *   the limit is 0 until Redis answers or the attempt fails.
 * - `shared`: the limit is this instance's grant from the shared budget.
 * - `learning`: Redis restarted or lost its state less than a lease ago; the instance keeps the limit it
 *   had and nothing new is handed out until every lease from before has run out.
 * - `fallback`: Redis is unreachable; the limit is the local fallback limit, never unlimited.
 * - `closed`: after `close()`; the limit is 0.
 */
export type SharedBudgetMode = 'connecting' | 'shared' | 'learning' | 'fallback' | 'closed';

/** What an instance holds and wants, as its queue sees it. */
export interface DemandSnapshot {
  /** Slots held right now (operations running). */
  inUse: number;
  /** Slots wanted right now per priority: held plus waiting. Missing priorities count as 0. */
  wanted: Partial<Readonly<Record<PriorityName, number>>>;
}

export interface SharedBudgetLimitChange {
  limit: number;
  previous: number;
  mode: SharedBudgetMode;
}

export interface SharedBudgetModeChange {
  mode: SharedBudgetMode;
  previous: SharedBudgetMode;
  /** Why, in words (e.g. the Redis error that made the instance fall back). */
  reason: string;
}

/** A live readout of a shared budget. */
export interface SharedBudgetStats {
  mode: SharedBudgetMode;
  limit: number;
  /** The capacity all instances share. */
  capacity: number;
  /** The last grant from Redis (0 before the first). */
  grant: number;
  /** The limit used in `fallback`. */
  fallbackLimit: number;
  /** Live instances, as of the last answer from Redis. */
  instances: number;
  /** Whether instances wanted more than the capacity at the last answer. */
  contended: boolean;
  /** How long the current lease stays valid, in ms (0 without one). */
  leaseRemainingMs: number;
  /** Calls to Redis, and how many of them failed. */
  requests: number;
  failedRequests: number;
  /** Failures since the last successful call. */
  consecutiveFailures: number;
  /** The last failure's message, until a call succeeds. */
  lastError: string | undefined;
}
