import type { ErrorReason } from '../errors/error-reason.js';
import type { ErrorType, Severity } from '../errors/error-type.js';
import type { SafeguardError } from '../errors/safeguard-error.js';
import { assertInteger } from '../internal/validate.js';
import { isSystemFailure } from '../pipeline/failure-policy.js';

/** One recorded error, safe to show an operator (no SQL, parameters or stack). */
export interface ErrorLogEntry {
  errorId: string;
  at: string;
  type: ErrorType;
  reason: ErrorReason;
  severity: Severity;
  message: string;
  sqlState: string | undefined;
  label: string | undefined;
}

/**
 * A run of refusals of one kind (same type, reason and label) with no quiet gap longer than
 * {@link refusalBurstGapMs}: one row however many calls were turned away, so a flood of refusals
 * cannot push the real errors out of the log.
 */
export interface RefusalBurst {
  type: ErrorType;
  reason: ErrorReason;
  label: string | undefined;
  /** Refusals in the burst. */
  count: number;
  firstAt: string;
  lastAt: string;
  /** The message of the burst's latest refusal (no SQL, parameters or stack). */
  message: string;
}

/** Most entries an error log may keep: enough for any admin page, and a bound on its memory. */
const maxCapacity = 100_000;

/** A quiet gap longer than this ends a burst of refusals; the next one starts a new row. */
export const refusalBurstGapMs = 10_000;

/** Bursts kept, newest first: refusals are summarised, so a short list covers a long flood. */
const maxBursts = 100;

interface OpenBurst {
  type: ErrorType;
  reason: ErrorReason;
  label: string | undefined;
  count: number;
  firstAt: number;
  lastAt: number;
  message: string;
}

/**
 * The most recent classified errors, in a fixed-size ring, for `/api/admin/errors` and health.
 * Refusals (rate limit, shed, full queue, open breaker, paused lanes) are the safeguards working, not
 * failures: they are kept apart, summarised one row per burst ({@link ErrorLog.refusals}), so a
 * flood of them never pushes a real error out of {@link ErrorLog.recent}. {@link ErrorLog.counts}
 * counts both.
 */
export class ErrorLog {
  /** Failures of the system (the ones health counts). */
  private readonly system: Ring;
  /**
   * The callers' own mistakes (bad input, conflicts, not found): a ring of their own, so that one
   * client sending bad requests in a loop cannot push the system's failures out either.
   */
  private readonly client: Ring;
  private total = 0;
  private readonly byType = new Map<ErrorType, number>();
  /** Newest last; at most `maxBursts`. */
  private readonly bursts: OpenBurst[] = [];
  /** The open burst of each kind (type, reason, label). */
  private readonly openBursts = new Map<string, OpenBurst>();

  /**
   * @param capacity - entries kept (the `errorLogSize` option): an integer from 1 to 100 000.
   *   Default 200. Throws a TypeError naming `errorLogSize` otherwise.
   */
  constructor(readonly capacity = 200) {
    assertInteger('errorLogSize', capacity, 1, maxCapacity);
    this.system = new Ring(capacity);
    this.client = new Ring(capacity);
  }

  record(error: SafeguardError, label?: string): void {
    (isSystemFailure(error) ? this.system : this.client).push({
      errorId: error.errorId,
      at: new Date(error.timestamp).toISOString(),
      type: error.type,
      reason: error.reason,
      severity: error.severity,
      message: error.internalMessage,
      sqlState: error.sqlState,
      label,
    });
    this.total++;
    this.byType.set(error.type, (this.byType.get(error.type) ?? 0) + 1);
  }

  /**
   * Counts a refusal into the burst of its kind, starting a new burst after a quiet gap. Costs a map
   * lookup, whatever the rate of refusals.
   */
  recordRefusal(error: SafeguardError, label?: string, now = error.timestamp): void {
    this.total++;
    this.byType.set(error.type, (this.byType.get(error.type) ?? 0) + 1);
    const kind = `${error.type}|${error.reason}|${label ?? ''}`;
    const open = this.openBursts.get(kind);
    if (open !== undefined && now - open.lastAt <= refusalBurstGapMs) {
      open.count++;
      open.lastAt = Math.max(open.lastAt, now);
      open.message = error.internalMessage;
      return;
    }
    const burst: OpenBurst = {
      type: error.type,
      reason: error.reason,
      label,
      count: 1,
      firstAt: now,
      lastAt: now,
      message: error.internalMessage,
    };
    this.bursts.push(burst);
    if (this.bursts.length > maxBursts) {
      const dropped = this.bursts.shift()!;
      const droppedKind = `${dropped.type}|${dropped.reason}|${dropped.label ?? ''}`;
      if (this.openBursts.get(droppedKind) === dropped) this.openBursts.delete(droppedKind);
    }
    this.openBursts.set(kind, burst);
  }

  /** Bursts of refusals, most recently active first. */
  refusals(options: { limit?: number } = {}): RefusalBurst[] {
    const limit = Math.max(0, Math.min(options.limit ?? 50, maxBursts));
    return [...this.bursts]
      .sort((a, b) => b.lastAt - a.lastAt)
      .slice(0, limit)
      .map((burst) => ({
        ...burst,
        firstAt: new Date(burst.firstAt).toISOString(),
        lastAt: new Date(burst.lastAt).toISOString(),
      }));
  }

  /**
   * Newest first, optionally only one type: up to `capacity` failures of the system and as many of the
   * callers' own mistakes. Refusals are not here: see {@link ErrorLog.refusals}.
   */
  recent(options: { limit?: number; type?: ErrorType } = {}): ErrorLogEntry[] {
    const limit = Math.max(0, Math.min(options.limit ?? 50, 2 * this.capacity));
    const system = this.system.newestFirst(limit, options.type);
    const client = this.client.newestFirst(limit, options.type);
    // Merge the two (each newest first) by time, ties to the system's failures.
    const result: ErrorLogEntry[] = [];
    let a = 0;
    let b = 0;
    while (result.length < limit && (a < system.length || b < client.length)) {
      const fromSystem = b >= client.length || (a < system.length && system[a]!.at >= client[b]!.at);
      result.push(fromSystem ? system[a++]! : client[b++]!);
    }
    return result;
  }

  /** Every error and refusal recorded, in total and by type. */
  counts(): { total: number; byType: Partial<Record<ErrorType, number>> } {
    return { total: this.total, byType: Object.fromEntries(this.byType) };
  }
}

/** A fixed-size ring of entries, oldest overwritten first. */
class Ring {
  private readonly entries: Array<ErrorLogEntry | undefined>;
  private next = 0;

  constructor(private readonly capacity: number) {
    this.entries = new Array(capacity);
  }

  push(entry: ErrorLogEntry): void {
    this.entries[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
  }

  newestFirst(limit: number, type: ErrorType | undefined): ErrorLogEntry[] {
    const result: ErrorLogEntry[] = [];
    for (let i = 1; i <= this.capacity && result.length < limit; i++) {
      const entry = this.entries[(this.next - i + this.capacity) % this.capacity];
      if (entry === undefined) break;
      if (type === undefined || entry.type === type) result.push(entry);
    }
    return result;
  }
}
