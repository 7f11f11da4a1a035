import { assertInteger } from '../internal/validate.js';
import type { RateLimitDecision, RateLimitStore } from './rate-limit-store.js';

export interface MemoryRateLimitStoreOptions {
  /** Keys kept at most; the least recently used key is dropped beyond it. Default 10 000. */
  maxKeys?: number;
  /** Buckets a window is split into. More is more precise, and costs memory. Default 10. */
  bucketsPerWindow?: number;
}

interface Entry {
  /** Ring of per-bucket counts; one bucket more than the window holds (see `hit`). */
  counts: Uint32Array;
  /** Index (time / bucket width) of the newest bucket in the ring. */
  newest: number;
  lastHitAt: number;
  windowMs: number;
}

/**
 * Sliding-window counts in memory, with bounded memory: each key keeps `bucketsPerWindow + 1`
 * counters whatever its limit, idle keys are swept as other keys are hit (no timer), and at most
 * `maxKeys` keys are kept.
 *
 * The count covers every bucket that overlaps the last `windowMs`, so it may include hits up to one
 * bucket older than the window: the store errs on the strict side and never lets any window of
 * `windowMs` hold more than `limit` hits.
 */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly entries = new Map<string, Entry>();
  private readonly maxKeys: number;
  private readonly buckets: number;
  private hitsSinceSweep = 0;

  constructor(options: MemoryRateLimitStoreOptions = {}) {
    this.maxKeys = options.maxKeys ?? 10_000;
    this.buckets = options.bucketsPerWindow ?? 10;
    assertInteger('rateLimits.maxKeys', this.maxKeys, 1);
    assertInteger('rateLimits.bucketsPerWindow', this.buckets, 1, 1000);
  }

  get size(): number {
    return this.entries.size;
  }

  hit(key: string, limit: number, windowMs: number, now: number): RateLimitDecision {
    const width = windowMs / this.buckets;
    const current = Math.floor(now / width);
    let entry = this.entries.get(key);
    if (entry === undefined || entry.windowMs !== windowMs) {
      entry = { counts: new Uint32Array(this.buckets + 1), newest: current, lastHitAt: now, windowMs };
      this.entries.set(key, entry);
    } else {
      this.advance(entry, current);
      // Moving the key to the end keeps the map in (roughly) least-recently-hit order for sweeping
      // and eviction; once per bucket width is enough, and spares a delete and insert per hit.
      if (now - entry.lastHitAt >= width) {
        this.entries.delete(key);
        this.entries.set(key, entry);
      }
    }
    entry.lastHitAt = now;
    if (this.entries.size > this.maxKeys || ++this.hitsSinceSweep >= 16) {
      this.hitsSinceSweep = 0;
      this.sweep(now);
    }

    const ring = this.buckets + 1;
    let count = 0;
    for (let i = 0; i < ring; i++) count += entry.counts[i]!;
    if (count < limit) {
      entry.counts[current % ring]!++;
      return { allowed: true, count: count + 1, resetAt: this.resetAt(entry, width), retryAfterMs: 0 };
    }
    // Denied: find when enough of the oldest buckets will have left the counted range.
    let remaining = count;
    for (let bucket = current - this.buckets; bucket <= current; bucket++) {
      remaining -= entry.counts[((bucket % ring) + ring) % ring]!;
      if (remaining < limit) {
        // The first whole millisecond whose bucket index is past `bucket + buckets` (checked, not
        // computed, so floating-point bucket widths cannot make a promised retry fail).
        let retryAfterMs = Math.max(1, Math.ceil((bucket + ring) * width - now));
        while (Math.floor((now + retryAfterMs) / width) < bucket + ring) retryAfterMs++;
        return { allowed: false, count, resetAt: this.resetAt(entry, width), retryAfterMs };
      }
    }
    return { allowed: false, count, resetAt: this.resetAt(entry, width), retryAfterMs: Math.ceil(windowMs) };
  }

  reset(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  /** Zeroes the buckets that time has moved past. */
  private advance(entry: Entry, current: number): void {
    const ring = this.buckets + 1;
    if (current - entry.newest >= ring) entry.counts.fill(0);
    else for (let bucket = entry.newest + 1; bucket <= current; bucket++) entry.counts[bucket % ring] = 0;
    if (current > entry.newest) entry.newest = current;
  }

  /** When the newest counted hit leaves the counted range. */
  private resetAt(entry: Entry, width: number): number {
    const ring = this.buckets + 1;
    for (let bucket = entry.newest; bucket > entry.newest - ring; bucket--) {
      if (entry.counts[((bucket % ring) + ring) % ring]! > 0) return Math.ceil((bucket + ring) * width);
    }
    return Math.ceil((entry.newest + 1) * width);
  }

  /**
   * Drops the least recently used keys beyond `maxKeys`, and idle keys (nothing counted any more)
   * from the old end of the map: a few per call, so the cost per hit stays constant.
   */
  private sweep(now: number): void {
    let checked = 0;
    for (const [key, entry] of this.entries) {
      if (this.entries.size > this.maxKeys) {
        this.entries.delete(key);
        continue;
      }
      if (checked++ >= 32 || now - entry.lastHitAt <= entry.windowMs * (1 + 1 / this.buckets)) break;
      this.entries.delete(key);
    }
  }
}
