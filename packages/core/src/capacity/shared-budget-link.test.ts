import { describe, expect, it } from 'vitest';
import { EventEmitter } from '../internal/events.js';
import { Priority } from '../priority.js';
import type { Lease } from '../queue/connection-queue.js';
import { createSafeguards } from '../safeguards.js';
import { ManualClock } from '../testing/manual-clock.js';
import type {
  DemandSnapshot,
  SharedBudgetLimitChange,
  SharedBudgetMode,
  SharedBudgetModeChange,
  SharedBudgetStats,
  SharedConnectionBudget,
} from './shared-budget.js';

/**
 * The core's side of the contract, with a budget whose grant the test sets by hand (the Redis
 * budget itself is tested with `createSafeguards` on a real Redis in @db-safeguards/redis).
 */
class HandSetBudget implements SharedConnectionBudget {
  limit = 0;
  mode: SharedBudgetMode = 'connecting';
  reports: DemandSnapshot[] = [];
  closed = 0;
  private readonly limits = new EventEmitter<SharedBudgetLimitChange>();
  private readonly modes = new EventEmitter<SharedBudgetModeChange>();
  readonly onLimitChange = this.limits.event;
  readonly onModeChange = this.modes.event;

  get isDegraded(): boolean {
    return this.mode === 'fallback';
  }

  grant(limit: number, mode: SharedBudgetMode = 'shared'): void {
    const previous = this.limit;
    this.limit = limit;
    this.mode = mode;
    this.limits.emit({ limit, previous, mode });
  }

  reportDemand(demand: DemandSnapshot): void {
    this.reports.push(demand);
  }

  stats(): SharedBudgetStats {
    return {
      mode: this.mode,
      limit: this.limit,
      capacity: 8,
      grant: this.limit,
      fallbackLimit: 2,
      instances: 4,
      contended: false,
      leaseRemainingMs: 0,
      requests: 0,
      failedRequests: 0,
      consecutiveFailures: this.mode === 'fallback' ? 3 : 0,
      lastError: this.mode === 'fallback' ? 'connect ECONNREFUSED' : undefined,
    };
  }

  async close(): Promise<void> {
    this.closed++;
    this.mode = 'closed';
  }
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

/** Safeguards with a budget of 4 (no CRITICAL reserve) on a {@link HandSetBudget}, on a manual clock. */
function safeguardsOnHandSetBudget() {
  const clock = new ManualClock();
  const shared = new HandSetBudget();
  const safeguards = createSafeguards({
    clock,
    shared,
    queue: { maxConcurrentConnections: 4, reservedForCritical: 0 },
  });
  return { clock, shared, safeguards };
}

describe('a shared budget in createSafeguards', () => {
  it('holds the queue to the grant, reports demand once per turn capped at the budget from the top priority, and degrades health on fallback', async () => {
    const { clock, shared, safeguards } = safeguardsOnHandSetBudget();
    expect(safeguards.metrics().capacity).toMatchObject({ effective: 0, limitedBy: 'shared' });
    const granted: Lease[] = [];
    for (const priority of [
      Priority.BATCH,
      Priority.BATCH,
      Priority.BATCH,
      Priority.HIGH,
      Priority.HIGH,
      Priority.HIGH,
    ])
      safeguards.queue.acquire(priority).then(
        (lease) => granted.push(lease),
        () => {},
      );
    await flush();
    // Six arrivals in one turn: one report, of what the process could use, HIGH first.
    expect(shared.reports.at(-1)).toEqual({
      inUse: 0,
      wanted: { CRITICAL: 0, HIGH: 3, NORMAL: 0, LOW: 0, BATCH: 1 },
    });
    expect(shared.reports).toHaveLength(2); // the first, at start, and this one
    shared.grant(2);
    await flush();
    expect(safeguards.queue.active).toBe(2);
    expect(safeguards.queue.stats().activeByPriority.HIGH).toBe(2);
    shared.grant(4);
    await flush();
    expect(safeguards.queue.active).toBe(4);

    shared.grant(1, 'fallback');
    const health = await safeguards.health();
    expect(health.httpStatus).toBe(206);
    expect(health.components.capacity.status).toBe('degraded');
    expect(safeguards.metrics().capacity.shared).toMatchObject({ mode: 'fallback' });

    for (const lease of granted) lease.release();
    const closing = safeguards.close({ drainTimeoutMs: 0 });
    await clock.advance(1);
    await closing;
    expect(shared.closed).toBe(1);
  });

  it('takes a lower limit the budget has not announced yet as soon as demand moves (a late lease timer)', async () => {
    const { clock, shared, safeguards } = safeguardsOnHandSetBudget();
    shared.grant(2);
    const first = await safeguards.queue.acquire(Priority.NORMAL);
    await flush();
    // The grant has ended, but the event that says so has not come yet.
    shared.limit = 0;
    const second = safeguards.queue.acquire(Priority.NORMAL);
    await flush();
    expect(safeguards.metrics().capacity).toMatchObject({ effective: 0, limitedBy: 'shared' });
    expect(safeguards.queue.active).toBe(1);
    first.release();
    await flush();
    expect(safeguards.queue.active).toBe(0);
    shared.grant(2);
    const lease = await second;
    lease.release();
    const closing = safeguards.close({ drainTimeoutMs: 0 });
    await clock.advance(1);
    await closing;
  });

  it('reports a drop in demand only once it has lasted 500 ms, even if the queue is quiet by then', async () => {
    const { clock, shared, safeguards } = safeguardsOnHandSetBudget();
    shared.grant(4);
    const leases = await Promise.all([0, 1, 2].map(() => safeguards.queue.acquire(Priority.NORMAL)));
    await flush();
    expect(shared.reports.at(-1)!.wanted.NORMAL).toBe(3);
    for (const lease of leases) lease.release();
    await flush();
    // A dip between requests: still reported as wanted.
    expect(shared.reports.at(-1)).toMatchObject({ inUse: 0, wanted: { NORMAL: 3 } });
    await clock.advance(499);
    expect(shared.reports.at(-1)!.wanted.NORMAL).toBe(3);
    await clock.advance(1);
    expect(shared.reports.at(-1)).toMatchObject({ inUse: 0, wanted: { NORMAL: 0 } });
    await safeguards.close({ drainTimeoutMs: 0 }).catch(() => undefined);
  });
});
