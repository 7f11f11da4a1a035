import type { Clock } from '../internal/clock.js';
import { RollingCounter } from '../internal/rolling-counter.js';
import type { RetryBudgetOptions } from './retry-options.js';

export interface RetryBudgetStats {
  requests: number;
  retries: number;
  /** Retries refused because the budget was spent. */
  exhausted: number;
}

/**
 * Allows a retry only while retries in the window stay under `ratio` × requests plus a small floor.
 * When the database is down every request fails; without a budget each would be retried
 * `maxAttempts - 1` times and the load on a recovering database would multiply.
 */
export class RetryBudget {
  private readonly requests: RollingCounter;
  private readonly retries: RollingCounter;
  private readonly floor: number;
  private exhaustedCount = 0;

  constructor(
    clock: Clock,
    private readonly options: RetryBudgetOptions,
  ) {
    this.requests = new RollingCounter(clock, options.windowMs);
    this.retries = new RollingCounter(clock, options.windowMs);
    this.floor = (options.minPerSecond * options.windowMs) / 1000;
  }

  /** Counts one first attempt. */
  recordRequest(now?: number): void {
    this.requests.add(1, now);
  }

  /** Takes one retry from the budget; false when it is spent. */
  tryWithdraw(): boolean {
    if (this.retries.total() + 1 > this.options.ratio * this.requests.total() + this.floor) {
      this.exhaustedCount++;
      return false;
    }
    this.retries.add();
    return true;
  }

  stats(): RetryBudgetStats {
    return { requests: this.requests.total(), retries: this.retries.total(), exhausted: this.exhaustedCount };
  }
}
