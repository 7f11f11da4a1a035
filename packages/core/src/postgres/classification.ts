import type { ErrorType, Severity } from '../errors/error-type.js';

/** What the classifier decided about one failure, before it becomes a `SafeguardError`. */
export interface Classification {
  type: ErrorType;
  reason: string;
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
export function rejected(
  type: ErrorType,
  reason: string,
  extra: Partial<Classification> = {},
): Classification {
  return { type, reason, retryable: false, notApplied: true, ...extra };
}

/** Shorthand used by the tables: a transient failure worth retrying. */
export function transient(
  type: ErrorType,
  reason: string,
  notApplied: boolean,
  retryAfterMs: number,
  extra: Partial<Classification> = {},
): Classification {
  return { type, reason, retryable: true, notApplied, retryAfterMs, ...extra };
}
