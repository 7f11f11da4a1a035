/**
 * Which clients adaptive limits tighten. Under lasting load the limits of the clients above their
 * fair share shrink (those that made at least the mean number of checks in the last interval, more
 * than one); everyone else keeps the full limit. So a client flooding the app slows itself down and
 * nobody else, and limits never fall for all because of one client.
 *
 * Memory is bounded: at most `maxKeys` clients are counted per interval (later ones are left alone),
 * and a tightened client's factor relaxes back to 1 and is forgotten once its pressure is gone.
 */
export class ClientTightening {
  private hits = new Map<string, number>();
  private totalHits = 0;
  private readonly factors = new Map<string, number>();

  constructor(private readonly maxKeys: number) {}

  /** Counts one check of `key` in the current interval. */
  count(key: string): void {
    this.totalHits++;
    const seen = this.hits.get(key);
    if (seen !== undefined) this.hits.set(key, seen + 1);
    else if (this.hits.size < this.maxKeys) this.hits.set(key, 1);
  }

  /** The factor (0..1] applied to the limits of `key` right now. */
  factor(key: string): number {
    return this.factors.get(key) ?? 1;
  }

  /** Clients whose limits are tightened right now. */
  get size(): number {
    return this.factors.size;
  }

  /**
   * Ends an interval. Every tightened client relaxes by `relaxStep`; then, when `multiplier` is
   * below 1 (lasting load), the clients above their fair share of this interval's checks are
   * tightened to it at once.
   */
  adjust(multiplier: number, relaxStep: number): void {
    for (const [key, factor] of this.factors) {
      // Rounded, so that ten steps of 0.1 land on 1 and a limit of 100 × 0.45 is 45, not 44.
      const relaxed = Math.min(1, Math.round((factor + relaxStep) * 1e9) / 1e9);
      if (relaxed >= 1) this.factors.delete(key);
      else this.factors.set(key, relaxed);
    }
    if (multiplier < 1 && this.hits.size > 0) {
      const fairShare = this.totalHits / this.hits.size;
      for (const [key, hits] of this.hits) {
        if (hits <= 1 || hits < fairShare) continue;
        if (!this.factors.has(key) && this.factors.size >= this.maxKeys) continue;
        this.factors.set(key, Math.min(this.factor(key), multiplier));
      }
    }
    this.hits = new Map();
    this.totalHits = 0;
  }
}
