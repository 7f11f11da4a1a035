import type { ErrorType, ValidationIssue } from '@db-safeguards/core';

/**
 * What every error a client receives carries in `error.data.userFriendly`: enough to show the person
 * a useful message and to decide whether and when to try again. Plain JSON; no SQL, parameters,
 * stack traces or connection strings, whatever the server threw.
 */
export interface UserFriendlyErrorData {
  type: ErrorType;
  /** A stable machine-readable sub-kind, e.g. `too-many-connections`, `rate-limit-recording`, `read-only`. */
  reason: string;
  message: string;
  suggestedActions: string[];
  /** Safe and useful to send again: transient, and for a mutation only when it cannot apply twice. */
  retryable: boolean;
  /** When to try again, in milliseconds, when the server knows. */
  retryAfterMs: number | null;
  /** Quote it to support: it links this error to the server's log. */
  errorId: string;
  /** True when the server is answering in a degraded mode (read-only, stale data). */
  degraded: boolean;
  /** Field-level problems for VALIDATION errors. */
  issues?: ValidationIssue[];
}
