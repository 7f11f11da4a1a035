import type { ErrorReason } from '../errors/error-reason.js';
import type { ErrorType, Severity } from '../errors/error-type.js';
import type { SafeguardError } from '../errors/safeguard-error.js';
import { assertInteger } from '../internal/validate.js';

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

/** Most entries an error log may keep: enough for any admin page, and a bound on its memory. */
const maxCapacity = 100_000;

/** The most recent classified errors, in a fixed-size ring, for `/api/admin/errors` and health. */
export class ErrorLog {
  private readonly entries: Array<ErrorLogEntry | undefined>;
  private next = 0;
  private total = 0;
  private readonly byType = new Map<ErrorType, number>();

  /**
   * @param capacity - entries kept (the `errorLogSize` option): an integer from 1 to 100 000.
   *   Default 200. Throws a TypeError naming `errorLogSize` otherwise.
   */
  constructor(readonly capacity = 200) {
    assertInteger('errorLogSize', capacity, 1, maxCapacity);
    this.entries = new Array(capacity);
  }

  record(error: SafeguardError, label?: string): void {
    this.entries[this.next] = {
      errorId: error.errorId,
      at: new Date(error.timestamp).toISOString(),
      type: error.type,
      reason: error.reason,
      severity: error.severity,
      message: error.internalMessage,
      sqlState: error.sqlState,
      label,
    };
    this.next = (this.next + 1) % this.capacity;
    this.total++;
    this.byType.set(error.type, (this.byType.get(error.type) ?? 0) + 1);
  }

  /** Newest first, optionally only one type. */
  recent(options: { limit?: number; type?: ErrorType } = {}): ErrorLogEntry[] {
    const limit = Math.max(0, Math.min(options.limit ?? 50, this.capacity));
    const result: ErrorLogEntry[] = [];
    for (let i = 1; i <= this.capacity && result.length < limit; i++) {
      const entry = this.entries[(this.next - i + this.capacity) % this.capacity];
      if (entry === undefined) break;
      if (options.type === undefined || entry.type === options.type) result.push(entry);
    }
    return result;
  }

  counts(): { total: number; byType: Partial<Record<ErrorType, number>> } {
    return { total: this.total, byType: Object.fromEntries(this.byType) };
  }
}
