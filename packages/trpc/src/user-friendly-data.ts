import type { ErrorReason, ErrorType, ValidationIssue } from '@db-safeguards/core';

/**
 * What every error a client receives carries in `error.data.userFriendly`: enough to show the person
 * a useful message and to decide whether and when to try again. Plain JSON; no SQL, parameters,
 * stack traces or connection strings, whatever the server threw. A union over the error types:
 * checking `type` narrows `reason` to that type's closed list, and a `switch` on `reason` is checked
 * by the compiler (a misspelt case does not compile).
 *
 * @example
 * const userFriendly = getUserFriendlyError(error);
 * if (userFriendly?.type === 'QUEUE_FULL') {
 *   switch (userFriendly.reason) {
 *     case 'shed':
 *     case 'displaced':
 *     case 'queue-full':
 *       showBusyBanner(userFriendly.retryAfterMs);
 *   }
 * }
 */
export type UserFriendlyErrorData<T extends ErrorType = ErrorType> = T extends ErrorType
  ? {
      type: T;
      /** A stable machine-readable sub-kind of `type`, e.g. `too-many-connections`, `shed`, `read-only`. */
      reason: ErrorReason<T>;
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
  : never;
