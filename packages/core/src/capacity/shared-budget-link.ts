import type { Clock, TimerHandle } from '../internal/clock.js';
import type { Disposable } from '../internal/events.js';
import { type PriorityName, priorities, priorityName } from '../priority.js';
import type { ConnectionQueue } from '../queue/connection-queue.js';
import type { EffectiveLimit } from './effective-limit.js';
import type { SharedConnectionBudget } from './shared-budget.js';

/**
 * Joins a process's queue to a shared budget: the budget's `limit` is the `shared` input of the
 * effective limit, and the queue's demand (slots held, and wanted per priority: held plus waiting,
 * capped at the process's own budget from the highest priority down) is reported once per turn of
 * the event loop in which it changed, so a burst of grants and releases costs one report.
 *
 * Demand that grows is reported at once; demand that shrinks only once it has stayed lower for
 * `holdMs` (500 ms): between two requests a busy queue empties for an instant, and reporting that
 * dip would hand slots back at the next renewal only to ask for them again (and make the pool close
 * connections it needs a moment later).
 *
 * While the budget cannot reach its store it reports its fallback limit, and the `database` input
 * (the adaptive limit) still applies: the process runs on the smaller of the two, never unlimited.
 */
export class SharedBudgetLink {
  private scheduled = false;
  private readonly subscription: Disposable;
  private closed = false;
  /** Per priority: the demand reported, and since when a lower demand has been seen (0: not lower). */
  private readonly held: Record<PriorityName, number> = { CRITICAL: 0, HIGH: 0, NORMAL: 0, LOW: 0, BATCH: 0 };
  private lowerSince: Record<PriorityName, number> = { CRITICAL: 0, HIGH: 0, NORMAL: 0, LOW: 0, BATCH: 0 };
  private holdTimer: TimerHandle | undefined = undefined;

  constructor(
    readonly budget: SharedConnectionBudget,
    private readonly queue: ConnectionQueue,
    limit: EffectiveLimit,
    private readonly clock: Clock,
    private readonly holdMs = 500,
  ) {
    limit.set('shared', budget.limit);
    this.subscription = budget.onLimitChange((change) => limit.set('shared', change.limit));
    queue.setDemandHook(() => this.schedule());
    // The budget announces a grant's end from a timer, which a busy event loop runs late; its `limit`
    // may already say so. Read before each hand-out, no slot is given on a grant that has ended.
    queue.setLimitProbe(() => limit.set('shared', budget.limit));
    this.report();
  }

  /** Stops reporting and gives the budget's slots back (`budget.close()`). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.subscription.dispose();
    this.queue.setDemandHook(undefined);
    this.queue.setLimitProbe(undefined);
    if (this.holdTimer !== undefined) this.clock.clearTimeout(this.holdTimer);
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
    const now = this.clock.now();
    const current = this.queue.demand();
    let nextDrop = Number.POSITIVE_INFINITY;
    for (const priority of priorities) {
      const name = priorityName(priority);
      if (current[name] >= this.held[name]) {
        this.held[name] = current[name];
        this.lowerSince[name] = 0;
        continue;
      }
      if (this.lowerSince[name] === 0) this.lowerSince[name] = now;
      const dropAt = this.lowerSince[name] + this.holdMs;
      if (now >= dropAt) {
        this.held[name] = current[name];
        this.lowerSince[name] = 0;
      } else {
        nextDrop = Math.min(nextDrop, dropAt);
      }
    }
    this.budget.reportDemand({ inUse: this.queue.active, wanted: { ...this.held } });
    // A lower demand still held is reported when its hold ends, even if the queue is quiet by then.
    if (nextDrop !== Number.POSITIVE_INFINITY && this.holdTimer === undefined) {
      this.holdTimer = this.clock.setTimeout(() => {
        this.holdTimer = undefined;
        if (!this.closed) this.report();
      }, nextDrop - now);
    }
  }
}
