import type { Clock } from './clock.js';

/**
 * Counts events over a sliding time window using fixed buckets: O(1) to add, O(buckets) to read, and
 * a bounded amount of memory however many events arrive. Used for error rates and the retry budget.
 */
export class RollingCounter {
  private readonly counts: Float64Array;
  private readonly bucketMs: number;
  private currentBucket = -1;

  constructor(
    private readonly clock: Clock,
    readonly windowMs: number,
    private readonly bucketCount = 10,
  ) {
    this.counts = new Float64Array(bucketCount);
    this.bucketMs = Math.max(1, Math.ceil(windowMs / bucketCount));
  }

  /**
   * Adds `amount` at `now` (pass it when the caller already read the clock). An event stamped before
   * the newest bucket (its time was read earlier, e.g. when an operation started) is counted in its own
   * bucket, or in the oldest bucket of the window when its stamp is older than that: it is reported
   * now, so it did happen recently (a call that ran longer than the window still counts). It never
   * moves the window back.
   */
  add(amount = 1, now = this.clock.now()): void {
    let bucket = Math.floor(now / this.bucketMs);
    if (bucket < this.currentBucket) {
      const oldest = this.currentBucket - this.bucketCount + 1;
      if (bucket < oldest) bucket = oldest;
    } else {
      this.advanceTo(bucket);
    }
    const slot = bucket % this.bucketCount;
    this.counts[slot] = this.counts[slot]! + amount;
  }

  /** The sum over the last `windowMs`. */
  total(): number {
    this.advanceTo(Math.floor(this.clock.now() / this.bucketMs));
    let sum = 0;
    for (let i = 0; i < this.bucketCount; i++) sum += this.counts[i]!;
    return sum;
  }

  reset(): void {
    this.counts.fill(0);
  }

  /** Moves the window forward to `bucket`, clearing the buckets it leaves behind; never backward. */
  private advanceTo(bucket: number): void {
    if (bucket <= this.currentBucket) return;
    if (this.currentBucket < 0 || bucket - this.currentBucket >= this.bucketCount) {
      this.counts.fill(0);
    } else {
      for (let b = this.currentBucket + 1; b <= bucket; b++) this.counts[b % this.bucketCount] = 0;
    }
    this.currentBucket = bucket;
  }
}
