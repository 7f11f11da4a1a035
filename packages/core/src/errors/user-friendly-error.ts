import { classifyError } from './classify-error.js';
import type { ErrorReason } from './error-reason.js';
import type { ErrorType, Severity } from './error-type.js';
import type { ValidationIssue } from './safeguard-error.js';

/**
 * What a client may see of an error of type `T` (of any type when omitted): plain JSON, no SQL,
 * parameters, stack or connection string. A union over the types, so checking `type` narrows
 * `reason` to that type's closed list. `degraded` is true when the server answered in a degraded
 * mode (stale data, read-only).
 */
export type UserFriendlyError<T extends ErrorType = ErrorType> = T extends ErrorType
  ? {
      type: T;
      reason: ErrorReason<T>;
      severity: Severity;
      message: string;
      suggestedActions: string[];
      retryable: boolean;
      retryAfterMs: number | null;
      errorId: string;
      httpStatus: number;
      degraded: boolean;
      issues?: ValidationIssue[];
    }
  : never;

/**
 * Classifies `error` and returns the part of it meant for the person using the app.
 *
 * @example
 * try {
 *   await safeguards.run(() => sql`select 1`, { operationType: 'read' });
 * } catch (error) {
 *   const friendly = toUserFriendlyError(error);
 *   response.status(friendly.httpStatus).json(friendly);
 * }
 */
export function toUserFriendlyError(error: unknown, options: { degraded?: boolean } = {}): UserFriendlyError {
  const classified = classifyError(error);
  // A SafeguardError's reason belongs to its type, which the compiler cannot tell from two fields.
  const friendly = {
    type: classified.type,
    reason: classified.reason,
    severity: classified.severity,
    message: classified.userMessage,
    suggestedActions: [...classified.suggestedActions],
    retryable: classified.retryable,
    retryAfterMs: classified.retryAfterMs ?? null,
    errorId: classified.errorId,
    httpStatus: classified.httpStatus,
    degraded: options.degraded ?? false,
  } as UserFriendlyError;
  if (classified.issues) friendly.issues = classified.issues.map((issue) => ({ ...issue }));
  return friendly;
}
