import type { ErrorReason } from '../errors/error-reason.js';
import type { ErrorType, Severity } from '../errors/error-type.js';

/** What the classifier decided about one failure, before it becomes a `SafeguardError`. */
export interface Classification<T extends ErrorType = ErrorType> {
  type: T;
  reason: ErrorReason<T>;
  /** Transient: the same operation may succeed if run again later. */
  retryable: boolean;
  /** The database certainly did not apply the failed statement or transaction. */
  notApplied: boolean;
  retryAfterMs?: number;
  severity?: Severity;
  userMessage?: string;
  suggestedActions?: readonly string[];
}

/** Shorthand used by the tables: a failure the database reported and rolled back. */
export function rejected<T extends ErrorType>(
  type: T,
  reason: ErrorReason<T>,
  extra: Partial<Classification<T>> = {},
): Classification<T> {
  return { type, reason, retryable: false, notApplied: true, ...extra };
}

/** Shorthand used by the tables: a transient failure worth retrying. */
export function transient<T extends ErrorType>(
  type: T,
  reason: ErrorReason<T>,
  notApplied: boolean,
  retryAfterMs: number,
  extra: Partial<Classification<T>> = {},
): Classification<T> {
  return { type, reason, retryable: true, notApplied, retryAfterMs, ...extra };
}
