/**
 * The highest value seen over a trailing window, in constant memory: the window is cut into eight
 * buckets, each keeping its own maximum, so the peak is never understated and is overstated by at most
 * one bucket's length of extra memory. With a window of 0 it is simply the latest value.
 */
export class RecentPeak {
  private readonly bucketMs: number;
  private readonly maxima: number[];
  private readonly starts: number[];
  private latest = 0;

  constructor(private readonly windowMs: number) {
    this.bucketMs = Math.max(1, Math.ceil(windowMs / 8));
    this.maxima = new Array<number>(9).fill(0);
    this.starts = new Array<number>(9).fill(Number.NEGATIVE_INFINITY);
  }

  /** Records `value` as seen at `now` (a monotonic clock's milliseconds). */
  record(value: number, now: number): void {
    this.latest = value;
    if (this.windowMs <= 0) return;
    const start = Math.floor(now / this.bucketMs) * this.bucketMs;
    const slot = Math.floor(now / this.bucketMs) % this.maxima.length;
    if (this.starts[slot] !== start) {
      this.starts[slot] = start;
      this.maxima[slot] = value;
    } else if (value > this.maxima[slot]!) {
      this.maxima[slot] = value;
    }
  }

  /** When `peak()` may next fall (a bucket above the latest value leaves the window); +∞ if never. */
  nextDropAt(now: number): number {
    let at = Number.POSITIVE_INFINITY;
    if (this.windowMs <= 0) return at;
    const oldest = now - this.windowMs - this.bucketMs;
    for (let i = 0; i < this.maxima.length; i++) {
      const start = this.starts[i]!;
      if (start > oldest && this.maxima[i]! > this.latest)
        at = Math.min(at, start + this.windowMs + this.bucketMs);
    }
    return at;
  }

  /** The largest value recorded within the last `windowMs` before `now`, and the latest value. */
  peak(now: number): number {
    let peak = this.latest;
    if (this.windowMs <= 0) return peak;
    const oldest = now - this.windowMs - this.bucketMs;
    for (let i = 0; i < this.maxima.length; i++) {
      if (this.starts[i]! > oldest && this.maxima[i]! > peak) peak = this.maxima[i]!;
    }
    return peak;
  }
}
