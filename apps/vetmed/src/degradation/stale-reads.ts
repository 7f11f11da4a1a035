import { type Clock, type ErrorReason, type ErrorType, StaleCache } from '@db-safeguards/core';
import { systemClock } from '@db-safeguards/core/advanced';

/**
 * What a read that may be served from its last good answer returns: the answer, and whether it is
 * fresh. A stale one says when it was fresh (`asOf`) and why the database could not answer now, so a
 * client can show "showing data from 14:02" instead of either an error or old data passed off as new.
 */
export type MaybeStale<T> =
  | { value: T; degraded: false }
  | {
      value: T;
      degraded: true;
      /** When this answer was read from the database. */
      asOf: Date;
      /** Why it could not be read again: the failure's type and reason (CIRCUIT_BREAKER, circuit-open...). */
      unavailable: { type: ErrorType; reason: ErrorReason };
    };

/** A fresh answer, as the procedures of `staleReadProcedure` return it. */
export function fresh<T>(value: T): MaybeStale<T> {
  return { value, degraded: false };
}

export interface StaleReadsOptions {
  /** Answers kept at most, over every user and procedure; the least recently stored goes first. Default 2 000. */
  maxEntries?: number;
  /** Oldest answer that may still be served. Default 30 minutes; 0: none (every failure reaches the client). */
  maxStaleMs?: number;
  /**
   * A kept answer younger than this is not replaced (core's `StaleCache` `refreshIntervalMs`). Default
   * 1 s: keeping every read's 50 rows for the few hundred milliseconds until the same user's next read
   * made the garbage collector move each copy to its old generation, where it died soon after. Measured
   * (two app processes running at once, each loaded in turn at 50 calls/s, 5 rounds): keeping every
   * answer cost 1.14-1.54x the CPU of not keeping any; keeping one a second, 0.99-1.15x; two
   * identical processes, 0.97-1.27x. 0: every answer is kept.
   */
  refreshIntervalMs?: number;
  clock?: Clock;
}

/** Default of {@link StaleReadsOptions.maxEntries}. */
export const defaultStaleReadEntries = 2000;
/** Default of {@link StaleReadsOptions.maxStaleMs}. */
export const defaultMaxStaleMs = 30 * 60_000;
/** Default of {@link StaleReadsOptions.refreshIntervalMs}. */
export const defaultStaleRefreshIntervalMs = 1000;

/**
 * The last good answers of the app's degradable reads, one per user, procedure and input, kept by the
 * core's `StaleCache`: bounded in entries and in age. Per user, because an answer was produced after
 * that user's access check: another user never gets it, even for the same input. One per server
 * instance (the memory it holds is this process's; another instance has its own).
 */
export class StaleReads {
  private readonly cache: StaleCache<unknown>;
  private readonly clock: Clock;
  private readonly isOff: boolean;

  constructor(options: StaleReadsOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.isOff = options.maxStaleMs === 0;
    this.cache = new StaleCache<unknown>({
      maxEntries: options.maxEntries ?? defaultStaleReadEntries,
      maxStaleMs: options.maxStaleMs ?? defaultMaxStaleMs,
      refreshIntervalMs: options.refreshIntervalMs ?? defaultStaleRefreshIntervalMs,
      clock: this.clock,
    });
  }

  /** Answers kept now. */
  get size(): number {
    return this.cache.size;
  }

  /**
   * Runs `load`; keeps its answer on success. When it fails because the database is unavailable
   * (connection, open breaker, full queue, timeout) and an answer younger than `maxStaleMs` is kept,
   * returns that answer marked stale; otherwise rethrows the classified failure (a SafeguardError).
   */
  async read<T>(
    key: { userId: string; procedure: string; input: unknown },
    load: () => Promise<T>,
  ): Promise<MaybeStale<T>> {
    if (this.isOff) return { value: await load(), degraded: false };
    const outcome = await this.cache.read(cacheKey(key), load);
    if (!outcome.degraded) return { value: outcome.value, degraded: false };
    return {
      value: outcome.value,
      degraded: true,
      asOf: new Date(this.clock.now() - outcome.staleForMs),
      unavailable: { type: outcome.error.type, reason: outcome.error.reason },
    };
  }
}

/** One string per user, procedure and input (the input as the client sent it, in JSON). */
function cacheKey(key: { userId: string; procedure: string; input: unknown }): string {
  return `${key.userId}\u0000${key.procedure}\u0000${JSON.stringify(key.input) ?? ''}`;
}
