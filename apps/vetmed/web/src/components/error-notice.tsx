import { useEffect, useRef } from 'react';
import { toFriendlyError } from '../api/friendly-error.js';
import { retryTimeOf } from '../api/retry-policy.js';
import { formatWait, useNow } from './use-now.js';

export interface ErrorNoticeProps {
  /** The error of a query or mutation (its `error`, or `failureReason` while it retries). */
  error: unknown;
  /** When the error was received (epoch ms), to count the server's `retryAfterMs` down from. */
  receivedAt?: number | undefined;
  /** Offered as "Try again" when the error is retryable; called by itself at the end of the wait when `autoRetry`. */
  onRetry?: (() => void) | undefined;
  /** Retry by itself when the server's wait is over (reads and idempotent writes only). */
  autoRetry?: boolean;
  /** How the form names the fields the server's validation issues point at (`doseAmount` → "Amount"). */
  fieldNames?: Readonly<Record<string, string>>;
}

/**
 * An error as the person should see it: the server's message and suggested actions, a countdown to
 * the next try when there is one, field problems for invalid input, and the error ID to quote to
 * support. Never the raw error.
 */
export function ErrorNotice({
  error,
  receivedAt,
  onRetry,
  autoRetry = false,
  fieldNames = {},
}: ErrorNoticeProps) {
  const friendly = toFriendlyError(error);
  // A retry already planned by the query client, else the server's wait from when the error came.
  const planned = retryTimeOf(error);
  const serverWaitEnds =
    friendly.retryable && friendly.retryAfterMs !== null && receivedAt !== undefined
      ? receivedAt + friendly.retryAfterMs
      : undefined;
  const retryAt = planned ?? serverWaitEnds;
  const now = useNow(250, retryAt !== undefined);
  const remaining = retryAt === undefined ? 0 : retryAt - now;
  const waiting = remaining > 0;

  // Once the server's wait is over, try again by itself (once per error).
  const retried = useRef<unknown>(undefined);
  useEffect(() => {
    if (!autoRetry || planned !== undefined || !friendly.retryable || !onRetry) return;
    if (serverWaitEnds === undefined || waiting || retried.current === error) return;
    retried.current = error;
    onRetry();
  }, [autoRetry, planned, friendly.retryable, onRetry, serverWaitEnds, waiting, error]);

  return (
    <div className="notice notice-error" role="alert">
      <p className="notice-message">{friendly.message}</p>
      {friendly.issues && friendly.issues.length > 0 && (
        <ul className="notice-issues">
          {friendly.issues.map((issue) => (
            <li key={`${issue.path}:${issue.message}`}>
              {issue.path !== '' && <strong>{fieldNames[issue.path] ?? issue.path}: </strong>}
              {issue.message}
            </li>
          ))}
        </ul>
      )}
      {friendly.suggestedActions.length > 0 && (
        <ul className="notice-actions">
          {friendly.suggestedActions.map((action) => (
            <li key={action}>{action}</li>
          ))}
        </ul>
      )}
      {waiting && (
        <p className="notice-countdown" aria-live="off">
          {planned !== undefined || autoRetry ? 'Trying again in ' : 'You can try again in '}
          <span className="countdown">{formatWait(remaining)}</span>
        </p>
      )}
      {planned !== undefined && !waiting && <p className="notice-countdown">Trying again…</p>}
      <p className="notice-id">
        {friendly.errorId
          ? `Error ID: ${friendly.errorId} (quote it if you contact support)`
          : 'No error ID: your request did not reach VetMed.'}
      </p>
      {onRetry && friendly.retryable && planned === undefined && (
        <button type="button" className="button-secondary" onClick={onRetry} disabled={waiting}>
          Try again
        </button>
      )}
    </div>
  );
}
