import { isCapacitySignal } from '../capacity/capacity-signal.js';
import type { SafeguardError } from '../errors/safeguard-error.js';
import type { ResolvedContext } from './resolved-context.js';

/** Transient, but the database is working: contention, not infrastructure. */
const concurrencyConflicts = new Set(['serialization-failure', 'deadlock', 'lock-not-available']);

/**
 * Does this failure say the database (or the way to it) is unwell? Only these open circuit breakers:
 * lost or refused connections, timeouts, and transient resource errors. A unique violation, a
 * validation error or a serialization failure is the database doing its job.
 */
export function isInfrastructureFailure(error: SafeguardError): boolean {
  switch (error.type) {
    case 'CONNECTION':
      // A database refusing connections as full is up and answering: capacity, not an outage.
      return error.reason !== 'shutting-down' && error.reason !== 'client-closed' && !isCapacitySignal(error);
    case 'TIMEOUT':
      return error.reason === 'deadline' || error.reason === 'statement-timeout';
    case 'DATABASE':
      return error.retryable && !concurrencyConflicts.has(error.reason);
    default:
      return false;
  }
}

/** Refusals by the database, or by the app on top of it: the way to the database works. */
const answered = new Set([
  'CONFLICT',
  'VALIDATION',
  'AUTHORIZATION',
  'NOT_FOUND',
  'AUTHENTICATION',
  'DATABASE',
]);

/** What a failed attempt tells its circuit breaker. */
export type BreakerVerdict = 'failure' | 'success' | 'neutral';

/**
 * What a failed attempt tells its breaker: an infrastructure failure (or our own deadline) counts
 * against it; an error that shows the database answered (it carries a SQLSTATE: a unique violation,
 * a serialization failure, a syntax error) or an app-level refusal counts for it, so those never trip
 * it; anything else says nothing about the database (an unrecognised error, an abort, shutting down,
 * a refusal of ours from a nested call) and only releases the permit. A half-open probe that fails
 * with `new Error('socket went away weirdly')` must not close the breaker. Nor may a statement
 * cancelled on request (57014 `due to user request`): it carries a SQLSTATE, but the cancel came
 * from a caller that gave up, not from the database's health. Our own deadline passing counts only
 * when the attempt `hadTimeToRun` (see {@link hadTimeToRun}); otherwise it is neutral.
 */
export function breakerVerdict(
  error: SafeguardError,
  timedOut: boolean,
  hadTimeToRun = true,
): BreakerVerdict {
  const ourDeadline = timedOut || (error.type === 'TIMEOUT' && error.reason === 'deadline');
  if (ourDeadline && !hadTimeToRun) return 'neutral';
  // "Full" says nothing of the database's health either way: it must neither open nor close a breaker.
  if (!timedOut && isCapacitySignal(error)) return 'neutral';
  if (timedOut || isInfrastructureFailure(error)) return 'failure';
  if (error.type === 'TIMEOUT' && error.reason === 'query-cancelled') return 'neutral';
  return answered.has(error.type) || error.sqlState !== undefined ? 'success' : 'neutral';
}

/** A run this long that still missed its deadline is slow whatever its budget was. */
const slowRunMs = 1_000;

/**
 * Did an attempt that ran out of time have a fair chance to run, so that its deadline passing says
 * something about the database? Yes once it ran for half of its operation's time budget, or for 1 s.
 * An operation that waited in the queue for nearly all of its budget and then ran out of time mid-query
 * says the app is overloaded, not that the database is unwell: counted, the overload alone would open
 * the breaker and refuse urgent work with the rest. A stalled database still opens it: the first calls
 * into the stall get their slot at once and hang for their whole budget.
 */
export function hadTimeToRun(ranMs: number, budgetMs: number): boolean {
  return ranMs >= Math.min(budgetMs / 2, slowRunMs);
}

/** Failures that count against the error rate of the health report (not the user's own mistakes). */
export function isSystemFailure(error: SafeguardError): boolean {
  switch (error.type) {
    case 'CONNECTION':
      // The database saying it is full is load, not a fault: it never makes health unhealthy.
      return !isCapacitySignal(error);
    case 'CIRCUIT_BREAKER':
    case 'QUEUE_FULL':
    case 'DATABASE':
    case 'INTERNAL':
      return true;
    case 'TIMEOUT':
      // A caller that gave up, or a statement cancelled on request, says nothing of the system's health.
      return error.reason !== 'aborted' && error.reason !== 'query-cancelled';
    default:
      return false;
  }
}

/**
 * May the pipeline run the operation again after `error`? Only transient failures; never our own
 * refusals (retrying a full queue or an open breaker adds the load they exist to shed); and only when
 * running it again cannot apply it twice: the operation is idempotent, or it is atomic (one statement
 * or one transaction) and the database reported that none of it was applied.
 */
export function isRetryAllowed(error: SafeguardError, context: ResolvedContext): boolean {
  if (!error.retryable) return false;
  if (
    error.type === 'TIMEOUT' ||
    error.type === 'RATE_LIMIT' ||
    error.type === 'CIRCUIT_BREAKER' ||
    error.type === 'QUEUE_FULL'
  ) {
    return false;
  }
  if (error.reason === 'shutting-down') return false;
  return context.idempotent || (context.atomic && error.notApplied);
}
