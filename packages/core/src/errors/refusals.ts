import type { BreakerState } from '../breaker/breaker-state.js';
import type { ReadOnlyStatus } from '../degradation/read-only-mode.js';
import { Priority, priorityName } from '../priority.js';
import type { RateLimitResult } from '../rate-limit/rate-limiter.js';
import { SafeguardError, type SafeguardErrorInit } from './safeguard-error.js';

/**
 * Every error the safeguards make themselves, in one place: the refusals of work that was not run
 * (shutting down, read-only, rate limit, breaker, queue) and the timeouts and aborts a caller is
 * answered with. Errors of the database and the drivers come from `classifyError` instead.
 */

/**
 * A refusal without a stack trace. Refusals are the safeguards working, not bugs: under overload
 * there are thousands a second, and capturing a stack is most of what building one costs.
 */
function refusal<T extends SafeguardErrorInit['type']>(init: SafeguardErrorInit<T>): SafeguardError<T> {
  // V8's knob (Node, Deno, Bun, Chrome); elsewhere it is an unused property and the error has its stack.
  const errorClass = Error as { stackTraceLimit?: number };
  const limit = errorClass.stackTraceLimit;
  errorClass.stackTraceLimit = 0;
  try {
    return new SafeguardError(init);
  } finally {
    errorClass.stackTraceLimit = limit;
  }
}

/** Work refused because the process is shutting down: nothing ran, retry elsewhere. */
export function shuttingDown(detail: string): SafeguardError<'CONNECTION'> {
  return refusal({
    type: 'CONNECTION',
    reason: 'shutting-down',
    retryable: true,
    notApplied: true,
    retryAfterMs: 1000,
    internalMessage: detail,
  });
}

/** A write refused in read-only mode (`status` is active). */
export function readOnlyRefusal(
  status: ReadOnlyStatus,
  retryAfterMs: number | undefined,
): SafeguardError<'CIRCUIT_BREAKER'> {
  return refusal({
    type: 'CIRCUIT_BREAKER',
    reason: 'read-only',
    retryable: true,
    notApplied: true,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    userMessage: 'Changes are paused for a moment while we recover. You can still view your data.',
    suggestedActions: ['Try saving again shortly; nothing you entered has been stored yet.'],
    internalMessage: `read-only mode (${status.source}): ${status.reason}`,
  });
}

/** A call over its rate limit; the policy and figures ride along in `rateLimit` (for headers). */
export function rateLimitRefusal(result: RateLimitResult): SafeguardError<'RATE_LIMIT'> {
  const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
  return refusal({
    type: 'RATE_LIMIT',
    reason: 'rate-limit',
    retryAfterMs: result.retryAfterMs,
    notApplied: true,
    suggestedActions: [`Wait ${seconds} second${seconds === 1 ? '' : 's'}, then try again.`],
    internalMessage: `rate limit "${result.policy}" reached for ${result.key} (${result.limit} per window)`,
    rateLimit: {
      policy: result.policy,
      limit: result.limit,
      remaining: result.remaining,
      resetAt: result.resetAt,
      retryAfterMs: result.retryAfterMs,
    },
  });
}

/** A call refused by the breaker `name` in `state` (anything but CLOSED). */
export function breakerRefusal(
  name: string,
  state: BreakerState,
  retryAfterMs: number,
): SafeguardError<'CIRCUIT_BREAKER'> {
  return refusal({
    type: 'CIRCUIT_BREAKER',
    reason:
      state === 'ISOLATED'
        ? 'circuit-isolated'
        : state === 'HALF_OPEN'
          ? 'circuit-half-open'
          : 'circuit-open',
    retryable: true,
    notApplied: true,
    retryAfterMs: Math.max(1, retryAfterMs),
    internalMessage: `circuit breaker "${name}" is ${state}`,
  });
}

/** A waiter refused by the connection budget: shed by load, displaced, or a full queue. */
export function queueRefusal(
  reason: 'shed' | 'displaced' | 'queue-full',
  priority: Priority,
  active: number,
  queued: number,
): SafeguardError<'QUEUE_FULL'> {
  return refusal({
    type: 'QUEUE_FULL',
    reason,
    retryable: true,
    notApplied: true,
    retryAfterMs: priority >= Priority.NORMAL ? 1000 : 5000,
    internalMessage: `${reason}: ${priorityName(priority)} refused with ${active} active and ${queued} queued`,
  });
}

/**
 * A call refused because the process itself is overloaded (its event loop lags, or memory is past a
 * mark): `detail` says which reading passed which mark. Nothing ran. Retry-After is short for the
 * priorities that are shed last, longer for background work, which is shed first and resumes last.
 */
export function overloadedRefusal(priority: Priority, detail: string): SafeguardError<'QUEUE_FULL'> {
  const retryAfterMs = priority >= Priority.NORMAL ? 1000 : 5000;
  return refusal({
    type: 'QUEUE_FULL',
    reason: 'overloaded',
    retryable: true,
    notApplied: true,
    retryAfterMs,
    severity: 'medium',
    suggestedActions: [`Try again in ${retryAfterMs / 1000} second${retryAfterMs === 1000 ? '' : 's'}.`],
    internalMessage: `overloaded: ${priorityName(priority)} refused (${detail})`,
  });
}

/** A waiter that got no slot in time: the queue's own timeout, or the operation's deadline. */
export function queueWaitTimeout(
  reason: 'queue-timeout' | 'deadline',
  priority: Priority,
  waitedMs: number,
): SafeguardError<'TIMEOUT'> {
  return new SafeguardError({
    type: 'TIMEOUT',
    reason,
    retryable: true,
    notApplied: true,
    retryAfterMs: 1000,
    internalMessage:
      waitedMs === 0
        ? `deadline passed before waiting for a connection slot (${priorityName(priority)})`
        : `waited ${waitedMs} ms for a connection slot (${priorityName(priority)})`,
  });
}

/** Did the signal abort because a timeout fired (`AbortSignal.timeout`), rather than by hand? */
function isTimeoutReason(reason: unknown): boolean {
  return (reason as { name?: string } | undefined)?.name === 'TimeoutError';
}

/** A waiter whose signal aborted before it got a slot: nothing ran. */
export function abortedWhileQueued(priority: Priority, signal: AbortSignal): SafeguardError<'TIMEOUT'> {
  const timeout = isTimeoutReason(signal.reason);
  return new SafeguardError({
    type: 'TIMEOUT',
    reason: timeout ? 'deadline' : 'aborted',
    retryable: timeout,
    notApplied: true,
    internalMessage: `aborted while waiting for a slot (${priorityName(priority)})`,
    cause: signal.reason,
  });
}

/** An operation past its deadline (`label` names it in the log). Whether it ran is unknown. */
export function deadlinePassed(label: string | undefined): SafeguardError<'TIMEOUT'> {
  return new SafeguardError({
    type: 'TIMEOUT',
    reason: 'deadline',
    retryable: true,
    notApplied: false,
    retryAfterMs: 1000,
    internalMessage: `operation${label ? ` "${label}"` : ''} passed its deadline`,
  });
}

/** An operation whose caller's signal aborted with `reason`. Whether it ran is unknown. */
export function callerAborted(reason: unknown): SafeguardError<'TIMEOUT'> {
  const timeout = isTimeoutReason(reason);
  return new SafeguardError({
    type: 'TIMEOUT',
    reason: timeout ? 'deadline' : 'aborted',
    retryable: timeout,
    notApplied: false,
    internalMessage: timeout ? 'the caller timed out' : 'the caller aborted the operation',
    cause: reason,
  });
}
