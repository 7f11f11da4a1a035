import { classifyError } from './classify-error.js';
import type { ErrorType, Severity } from './error-type.js';
import type { ValidationIssue } from './safeguard-error.js';

/**
 * What a client may see of an error: plain JSON, no SQL, parameters, stack or connection string.
 * `degraded` is true when the server answered in a degraded mode (stale data, read-only).
 */
export interface UserFriendlyError {
  type: ErrorType;
  reason: string;
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

/** Classifies `error` and returns the part of it meant for the person using the app. */
export function toUserFriendlyError(error: unknown, options: { degraded?: boolean } = {}): UserFriendlyError {
  const classified = classifyError(error);
  const friendly: UserFriendlyError = {
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
  };
  if (classified.issues) friendly.issues = classified.issues.map((issue) => ({ ...issue }));
  return friendly;
}
