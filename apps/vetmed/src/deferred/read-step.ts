import { SafeguardError } from '@db-safeguards/core';
import { toSafeguardError } from '@db-safeguards/trpc';

/**
 * Runs a read-only step of a write procedure (an access check: one SELECT outside any transaction)
 * and, when it fails, says so in the error: `notApplied: true`, whatever the failure was. A lost
 * connection leaves a write's outcome unknown, but a SELECT that failed wrote nothing, and neither
 * did the procedure, whose writes come after it. This is what lets a recording whose access check
 * met the outage be deferred (trpc/defer-when-unavailable.ts); the error is otherwise the same.
 */
export async function readStep<T>(read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (error) {
    const failure = toSafeguardError(error);
    if (failure.notApplied) throw error;
    throw new SafeguardError({
      type: failure.type,
      reason: failure.reason,
      userMessage: failure.userMessage,
      suggestedActions: failure.suggestedActions,
      severity: failure.severity,
      retryable: failure.retryable,
      ...(failure.retryAfterMs === undefined ? {} : { retryAfterMs: failure.retryAfterMs }),
      httpStatus: failure.httpStatus,
      ...(failure.sqlState === undefined ? {} : { sqlState: failure.sqlState }),
      errorId: failure.errorId,
      notApplied: true,
      cause: error,
    });
  }
}
