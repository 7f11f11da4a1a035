import { BreakerState } from '../breaker/breaker-state.js';
import type { CircuitBreaker } from '../breaker/circuit-breaker.js';
import { callerAborted, deadlinePassed, rateLimitRefusal, shuttingDown } from '../errors/refusals.js';
import type { SafeguardError } from '../errors/safeguard-error.js';
import { Priority } from '../priority.js';
import type { RateLimitResult } from '../rate-limit/rate-limiter.js';
import type { RefusalStage } from './operation.js';
import type { PipelineParts } from './pipeline-parts.js';
import type { ResolvedContext } from './resolved-context.js';

/** A call refused before it ran, and where in the composition order. */
export class Refusal {
  constructor(
    readonly error: SafeguardError,
    readonly stage: RefusalStage,
  ) {}
}

/** What {@link admission} decides: refused, admitted after charging this rate limit, or admitted (undefined). */
export type AdmissionOutcome = Refusal | RateLimitResult | undefined;

/**
 * The checks of a call before it asks for a slot, shared by `run` and `Safeguards.admit`, in the
 * composition order: closed, aborted or already past its deadline (before any token is spent), then
 * read-only mode for writes, then the admission gates (the process's load) for a request's first
 * operation (a continuation of a started request goes on, so started work finishes), then the rate limit (when a policy is set; CRITICAL work bypasses it),
 * charged here. Synchronous unless the rate-limit store answers with a promise. Throws (or rejects)
 * a TypeError for an unknown policy. `now`: when the call was made.
 */
export function admission(
  parts: PipelineParts,
  context: ResolvedContext,
  now: number,
): AdmissionOutcome | Promise<AdmissionOutcome> {
  if (parts.isClosing) return new Refusal(shuttingDown('safeguards are closed (shutting down)'), 'queue');
  if (context.signal?.aborted) return new Refusal(callerAborted(context.signal.reason), 'queue');
  if (now >= context.deadline) return new Refusal(deadlinePassed(context.label), 'queue');
  if (context.isWrite) {
    const readOnly = parts.readOnlyRefusal();
    if (readOnly !== undefined) return new Refusal(readOnly, 'read-only');
  }
  if (parts.gates.length > 0 && context.progress?.started !== true) {
    for (const gate of parts.gates) {
      const refused = gate.refusal(context.priority, now, context.admitted);
      if (refused !== undefined) return new Refusal(refused, 'load');
    }
    if (context.progress !== undefined) context.progress.admitted = true;
  }
  if (context.policy === undefined || context.priority === Priority.CRITICAL) return undefined;
  const charged = parts.checkRateLimit(context, now);
  return charged instanceof Promise ? charged.then(rateLimitOutcome) : rateLimitOutcome(charged);
}

function rateLimitOutcome(result: RateLimitResult): Refusal | RateLimitResult {
  return result.allowed ? result : new Refusal(rateLimitRefusal(result), 'rate-limit');
}

/**
 * For `Safeguards.admit`, which takes no slot: would the breaker and the connection budget refuse the
 * call if it asked for one now? (A half-open breaker is asked without keeping the probe.)
 */
export function slotRefusal(parts: PipelineParts, context: ResolvedContext): Refusal | undefined {
  const breaker = parts.breakers.get(context.breaker);
  if (!breakerWouldAdmit(breaker)) return new Refusal(breaker.rejection(), 'breaker');
  const shed = parts.queue.checkAdmission(context.priority);
  return shed === undefined ? undefined : new Refusal(shed, 'queue');
}

function breakerWouldAdmit(breaker: CircuitBreaker): boolean {
  const state = breaker.state;
  if (state === BreakerState.CLOSED) return true;
  if (state !== BreakerState.HALF_OPEN) return false;
  const permit = breaker.tryAcquire();
  if (permit === undefined) return false;
  breaker.release(permit);
  return true;
}
