import { assertInteger } from '../internal/validate.js';
import type { RateLimitDecision, RateLimitStore } from './rate-limit-store.js';

export interface MemoryRateLimitStoreOptions {
  /** Keys kept at most; the least recently used key is dropped beyond it. Default 10 000. */
  maxKeys?: number;
  /** Buckets a window is split into. More is more precise, and costs memory. Default 10. */
  bucketsPerWindow?: number;
}

interface Entry {
  key: string;
  group: WindowGroup;
  /** Ring of per-bucket counts; one bucket more than the window holds (see `hit`). */
  counts: Uint32Array;
  /** Index (time / bucket width) of the newest bucket in the ring. */
  newest: number;
  lastHitAt: number;
  /** Neighbours in the group's recency list (older, newer). */
  older: Entry | undefined;
  newer: Entry | undefined;
}

/**
 * The keys of one window length, in a list from least to most recently hit. Keys are grouped by
 * window so each list is also in order of expiry: the idle sweep stops at the first key still counting.
 */
interface WindowGroup {
  windowMs: number;
  /** A key whose newest hit is older than this has nothing counted any more. */
  idleAfterMs: number;
  oldest: Entry | undefined;
  newest: Entry | undefined;
}

/** Idle keys one sweep may drop, so the cost per hit stays constant. */
const sweepBatch = 32;

/**
 * Sliding-window counts in memory, with bounded memory: each key keeps `bucketsPerWindow + 1`
 * counters whatever its limit, idle keys are swept as other keys are hit (no timer), and at most
 * `maxKeys` keys are kept, dropping the least recently hit first.
 *
 * The count covers every bucket that overlaps the last `windowMs`, so it may include hits up to one
 * bucket older than the window: the store errs on the strict side and never lets any window of
 * `windowMs` hold more than `limit` hits.
 */
export class MemoryRateLimitStore implements RateLimitStore {
  /** Lookup only: order lives in the lists, because a Map used as a queue slows down as it is drained. */
  private readonly entries = new Map<string, Entry>();
  private readonly groups = new Map<number, WindowGroup>();
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
    if (entry !== undefined && entry.group.windowMs !== windowMs) {
      this.drop(entry);
      entry = undefined;
    }
    if (entry === undefined) {
      const group = this.groupFor(windowMs);
      entry = {
        key,
        group,
        counts: new Uint32Array(this.buckets + 1),
        newest: current,
        lastHitAt: now,
        older: undefined,
        newer: undefined,
      };
      this.entries.set(key, entry);
      append(group, entry);
    } else {
      this.advance(entry, current);
      entry.lastHitAt = now;
      if (entry.group.newest !== entry) {
        unlink(entry);
        append(entry.group, entry);
      }
    }
    if (this.entries.size > this.maxKeys || ++this.hitsSinceSweep >= 16) {
      this.hitsSinceSweep = 0;
      this.sweep(now, entry);
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
    const entry = this.entries.get(key);
    if (entry !== undefined) this.drop(entry);
  }

  clear(): void {
    this.entries.clear();
    this.groups.clear();
  }

  private groupFor(windowMs: number): WindowGroup {
    let group = this.groups.get(windowMs);
    if (group === undefined) {
      group = {
        windowMs,
        idleAfterMs: windowMs * (1 + 1 / this.buckets),
        oldest: undefined,
        newest: undefined,
      };
      this.groups.set(windowMs, group);
    }
    return group;
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
   * Drops idle keys (nothing counted any more) from the old end of each group, a few per call, then
   * the least recently hit keys of all groups beyond `maxKeys`. `current`, the key being hit, stays.
   */
  private sweep(now: number, current: Entry): void {
    for (const group of this.groups.values()) {
      for (let dropped = 0; dropped < sweepBatch; dropped++) {
        const oldest = group.oldest;
        if (oldest === undefined || now - oldest.lastHitAt <= group.idleAfterMs) break;
        this.drop(oldest);
      }
    }
    while (this.entries.size > this.maxKeys) {
      let victim: Entry | undefined;
      for (const group of this.groups.values()) {
        const candidate = group.oldest === current ? current.newer : group.oldest;
        if (candidate !== undefined && (victim === undefined || candidate.lastHitAt < victim.lastHitAt))
          victim = candidate;
      }
      if (victim === undefined) return;
      this.drop(victim);
    }
  }

  private drop(entry: Entry): void {
    this.entries.delete(entry.key);
    unlink(entry);
    if (entry.group.oldest === undefined) this.groups.delete(entry.group.windowMs);
  }
}

function append(group: WindowGroup, entry: Entry): void {
  entry.older = group.newest;
  entry.newer = undefined;
  if (group.newest === undefined) group.oldest = entry;
  else group.newest.newer = entry;
  group.newest = entry;
}

function unlink(entry: Entry): void {
  const { group, older, newer } = entry;
  if (older === undefined) group.oldest = newer;
  else older.newer = newer;
  if (newer === undefined) group.newest = older;
  else newer.older = older;
  entry.older = undefined;
  entry.newer = undefined;
}
