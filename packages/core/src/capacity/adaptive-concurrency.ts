import type { CapacityOptions } from './capacity-options.js';

/** What the adaptive limit has done so far. */
export interface AdaptiveConcurrencyStats {
  /** The limit the database's answers allow now (the budget when nothing was refused lately). */
  limit: number;
  /** Attempts the database refused as full. */
  refusals: number;
  /** Times a refusal lowered the limit. */
  decreases: number;
  /** Slots given back by additive increase. */
  increases: number;
}

/**
 * Additive increase, multiplicative decrease of one process's concurrency, driven by the database's
 * own answer: a "too many connections" refusal halves it (by default), calls that succeed give it
 * back one slot per `increaseIntervalMs`, between 1 and the configured budget. Several instances
 * sharing a database's connections without talking to each other settle this way near their fair
 * share, as TCP senders share a link. Pure state on an injected clock reading: deterministic in tests.
 */
export class AdaptiveConcurrency {
  private value: number;
  private lastDecreaseAt = Number.NEGATIVE_INFINITY;
  /** Growth accrues from here: the last refusal, or the last slot given back. */
  private growthFrom: number;
  private refusals = 0;
  private decreases = 0;
  private increases = 0;

  /**
   * @param max the configured budget.
   * @param onLimit called with each new limit (the process's `EffectiveLimit`).
   */
  constructor(
    private readonly max: number,
    private readonly options: Pick<CapacityOptions, 'decreaseFactor' | 'increaseIntervalMs'>,
    now: number,
    private readonly onLimit: (limit: number) => void,
  ) {
    this.value = max;
    this.growthFrom = now;
  }

  get limit(): number {
    return this.value;
  }

  /**
   * The database refused an attempt as full. `attemptStartedAt`: when that attempt got its slot;
   * `inUse`: slots held when it was refused, its own included. Returns true when the limit dropped.
   */
  refused(attemptStartedAt: number, inUse: number, now: number): boolean {
    this.refusals++;
    // Full now: no slot comes back until a whole interval has passed without a refusal.
    this.growthFrom = now;
    // An attempt made under the limit before the last decrease says nothing new.
    if (attemptStartedAt < this.lastDecreaseAt) return false;
    const next = Math.max(1, Math.floor(Math.min(this.value, inUse) * this.options.decreaseFactor));
    this.lastDecreaseAt = now;
    if (next >= this.value) return false;
    this.value = next;
    this.decreases++;
    this.onLimit(next);
    return true;
  }

  /** A call succeeded: one slot back per whole interval since the last refusal or increase. */
  succeeded(now: number): void {
    if (this.value >= this.max) {
      this.growthFrom = now;
      return;
    }
    const steps = Math.floor((now - this.growthFrom) / this.options.increaseIntervalMs);
    if (steps <= 0) return;
    const next = Math.min(this.max, this.value + steps);
    this.increases += next - this.value;
    this.value = next;
    this.growthFrom += steps * this.options.increaseIntervalMs;
    this.onLimit(next);
  }

  stats(): AdaptiveConcurrencyStats {
    return {
      limit: this.value,
      refusals: this.refusals,
      decreases: this.decreases,
      increases: this.increases,
    };
  }
}
