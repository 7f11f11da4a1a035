import { classifyError } from '../errors/classify-error.js';
import { isUnavailableType } from '../errors/error-type.js';
import type { SafeguardError } from '../errors/safeguard-error.js';
import { type Clock, systemClock } from '../internal/clock.js';
import { assertInteger } from '../internal/validate.js';

/** A value that may be served from the last good copy while the database is unavailable. */
export type Degradable<T> =
  | { value: T; degraded: false }
  | { value: T; degraded: true; staleForMs: number; error: SafeguardError };

export interface StaleCacheOptions {
  /** Entries kept at most; the least recently stored one goes first. Default 1 000. */
  maxEntries?: number;
  /** Oldest copy that may still be served. Default 1 hour. */
  maxStaleMs?: number;
  /**
   * A kept copy younger than this is not replaced by a newer answer (0: every answer replaces it).
   * A copy kept for a few hundred milliseconds outlives the garbage collector's young generation
   * and is moved to the old one, only to die there soon after: on a busy read path that churn cost
   * more CPU than the read itself did (see the sample app's `StaleReads`, 1 s). A copy served later
   * still says how old it is. Default 0.
   */
  refreshIntervalMs?: number;
  clock?: Clock;
}

/**
 * "Serve the last good value": remembers what a read returned and, when the same read later fails
 * because the database is unavailable (connection, breaker open, queue full, timeout), returns that
 * copy flagged `degraded` instead of failing. Errors that say the request itself is wrong are rethrown.
 */
export class StaleCache<T = unknown> {
  private readonly entries = new Map<string, { value: T; storedAt: number }>();
  private readonly maxEntries: number;
  private readonly maxStaleMs: number;
  private readonly refreshIntervalMs: number;
  private readonly clock: Clock;

  constructor(options: StaleCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 1000;
    this.maxStaleMs = options.maxStaleMs ?? 3_600_000;
    this.refreshIntervalMs = options.refreshIntervalMs ?? 0;
    this.clock = options.clock ?? systemClock;
    assertInteger('staleCache.maxEntries', this.maxEntries, 1);
    assertInteger('staleCache.maxStaleMs', this.maxStaleMs, 0);
    assertInteger('staleCache.refreshIntervalMs', this.refreshIntervalMs, 0);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Runs `load`; on success stores and returns its value, on an availability failure returns the stored copy. */
  async read<V extends T>(key: string, load: () => Promise<V>): Promise<Degradable<V>> {
    try {
      const value = await load();
      this.store(key, value);
      return { value, degraded: false };
    } catch (error) {
      const classified = classifyError(error);
      const cached = this.entries.get(key);
      const staleForMs = cached ? this.clock.now() - cached.storedAt : Number.POSITIVE_INFINITY;
      if (!cached || !isUnavailableType(classified.type) || staleForMs > this.maxStaleMs) throw classified;
      return { value: cached.value as V, degraded: true, staleForMs, error: classified };
    }
  }

  /** Forgets a key, e.g. after a write made the copy wrong. */
  invalidate(key: string): void {
    this.entries.delete(key);
  }

  private store(key: string, value: T): void {
    const now = this.clock.now();
    if (this.refreshIntervalMs > 0) {
      const kept = this.entries.get(key);
      if (kept !== undefined && now - kept.storedAt < this.refreshIntervalMs) return;
    }
    this.entries.delete(key);
    this.entries.set(key, { value, storedAt: now });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }
}
