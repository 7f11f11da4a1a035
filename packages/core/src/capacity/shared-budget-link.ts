import type { Disposable } from '../internal/events.js';
import type { ConnectionQueue } from '../queue/connection-queue.js';
import type { EffectiveLimit } from './effective-limit.js';
import type { SharedConnectionBudget } from './shared-budget.js';

/**
 * Joins a process's queue to a shared budget: the budget's `limit` is the `shared` input of the
 * effective limit, and the queue's demand (slots held, and wanted per priority: held plus waiting,
 * capped at the process's own budget from the highest priority down) is reported once per turn of
 * the event loop in which it changed, so a burst of grants and releases costs one report.
 *
 * While the budget cannot reach its store it reports its fallback limit, and the `database` input
 * (the adaptive limit) still applies: the process runs on the smaller of the two, never unlimited.
 */
export class SharedBudgetLink {
  private scheduled = false;
  private readonly subscription: Disposable;
  private closed = false;

  constructor(
    readonly budget: SharedConnectionBudget,
    private readonly queue: ConnectionQueue,
    limit: EffectiveLimit,
  ) {
    limit.set('shared', budget.limit);
    this.subscription = budget.onLimitChange((change) => limit.set('shared', change.limit));
    queue.setDemandHook(() => this.schedule());
    this.report();
  }

  /** Stops reporting and gives the budget's slots back (`budget.close()`). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.subscription.dispose();
    this.queue.setDemandHook(undefined);
    await this.budget.close();
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      if (!this.closed) this.report();
    });
  }

  private report(): void {
    this.budget.reportDemand({ inUse: this.queue.active, wanted: this.queue.demand() });
  }
}
