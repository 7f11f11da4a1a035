/** Percentiles of a distribution. */
export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
  count: number;
}

/**
 * The last `capacity` samples of a measurement (wait times, durations) in a fixed ring, so recording
 * is one array write on the hot path and percentiles are computed only when someone reads them.
 */
export class SampleWindow {
  private readonly samples: Float64Array;
  private next = 0;
  private filled = 0;

  constructor(readonly capacity = 2048) {
    this.samples = new Float64Array(capacity);
  }

  record(value: number): void {
    this.samples[this.next] = value;
    this.next = this.next + 1 === this.capacity ? 0 : this.next + 1;
    if (this.filled < this.capacity) this.filled++;
  }

  get count(): number {
    return this.filled;
  }

  percentiles(): Percentiles {
    const n = this.filled;
    if (n === 0) return { p50: 0, p95: 0, p99: 0, max: 0, mean: 0, count: 0 };
    const sorted = this.samples.slice(0, n).sort();
    let sum = 0;
    for (let i = 0; i < n; i++) sum += sorted[i]!;
    const at = (q: number) => sorted[Math.min(n - 1, Math.ceil(q * n) - 1)]!;
    return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[n - 1]!, mean: sum / n, count: n };
  }

  /** The given percentile (0..1) of the recorded samples, 0 when empty. */
  quantile(q: number): number {
    const n = this.filled;
    if (n === 0) return 0;
    const sorted = this.samples.slice(0, n).sort();
    return sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
  }
}
