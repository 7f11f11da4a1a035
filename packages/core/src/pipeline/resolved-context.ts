import { assertFiniteNumber } from '../internal/validate.js';
import type { OperationType, RequestIdentity, RunContext } from '../operation-context.js';
import { isPriority, Priority } from '../priority.js';

/**
 * Whether a request (a `withContext` block, e.g. one tRPC call) has had an operation start on a slot.
 * Shared, and mutated, by every operation of the request: its later operations are continuations (see
 * `AcquireOptions.continuation`).
 */
export interface RequestProgress {
  started: boolean;
  /** The request's call was let through by the admission gates once (see `RunContext.admitted`). */
  admitted: boolean;
}

/** A run context with every default applied; what the pipeline works from. */
export interface ResolvedContext {
  readonly priority: Priority;
  readonly operationType: OperationType;
  readonly idempotent: boolean;
  readonly atomic: boolean;
  readonly isWrite: boolean;
  readonly policy: string | undefined;
  readonly identity: RequestIdentity;
  readonly signal: AbortSignal | undefined;
  /**
   * Epoch ms; always finite: `defaultTimeoutMs` after the start when neither the call nor its context
   * set one.
   */
  readonly deadline: number;
  readonly breaker: string;
  readonly label: string | undefined;
  /** The request this operation belongs to, when it runs inside a `withContext` block. */
  readonly progress: RequestProgress | undefined;
  /** Let through by the admission gates before (see `RunContext.admitted`). */
  readonly admitted: boolean;
}

/**
 * Context inherited from an enclosing `withContext` block or operation. The rate-limit policy is not
 * inherited: a request is charged once, where it is admitted, not once per query it makes.
 */
export type InheritedContext = Omit<
  ResolvedContext,
  'idempotent' | 'atomic' | 'isWrite' | 'policy' | 'admitted'
> & {
  explicitPriority: boolean;
};

const operationTypes: readonly OperationType[] = ['read', 'write', 'critical', 'batch'];
const anonymous: RequestIdentity = Object.freeze({});

function defaultPriority(type: OperationType): Priority {
  return type === 'critical' ? Priority.CRITICAL : type === 'batch' ? Priority.BATCH : Priority.NORMAL;
}

function defaultBreaker(priority: Priority, type: OperationType): string {
  if (type === 'critical' || priority === Priority.CRITICAL) return 'critical';
  if (type === 'batch' || priority === Priority.BATCH) return 'batch';
  return 'primary';
}

function combineSignals(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (!a || a === b) return b;
  if (!b) return a;
  const any = (AbortSignal as { any?: (signals: AbortSignal[]) => AbortSignal }).any;
  return any ? any([a, b]) : b;
}

/**
 * Applies defaults and inheritance, and validates (a TypeError names the bad field and value). Explicit
 * fields win, except that the earlier deadline and both signals always apply. Idempotence is never
 * inherited: a procedure that is safe to repeat as a whole does not make each of its statements safe
 * to repeat.
 */
export function resolveContext(
  context: RunContext,
  inherited: InheritedContext | undefined,
  now: number,
  defaultTimeoutMs: number,
): ResolvedContext {
  if (context.priority !== undefined && !isPriority(context.priority)) {
    throw new TypeError(`Expected context.priority to be a Priority (0-4), got ${String(context.priority)}`);
  }
  if (context.operationType !== undefined && !operationTypes.includes(context.operationType)) {
    throw new TypeError(
      `Expected context.operationType to be one of ${operationTypes.join(', ')}, got ${String(context.operationType)}`,
    );
  }
  // NaN would switch off every timeout downstream (NaN < x is false), the queue timeout included.
  if (context.deadline !== undefined) assertFiniteNumber('context.deadline', context.deadline);
  if (context.timeoutMs !== undefined) assertFiniteNumber('context.timeoutMs', context.timeoutMs, 0);
  const operationType = context.operationType ?? inherited?.operationType ?? 'write';
  const priority =
    context.priority ??
    (inherited?.explicitPriority || context.operationType === undefined ? inherited?.priority : undefined) ??
    defaultPriority(operationType);
  let deadline = Math.min(
    context.deadline ?? Number.POSITIVE_INFINITY,
    context.timeoutMs !== undefined ? now + context.timeoutMs : Number.POSITIVE_INFINITY,
    inherited?.deadline ?? Number.POSITIVE_INFINITY,
  );
  if (deadline === Number.POSITIVE_INFINITY) deadline = now + defaultTimeoutMs;
  const identity: RequestIdentity =
    context.userId !== undefined || context.tenantId !== undefined || context.ip !== undefined
      ? { userId: context.userId, tenantId: context.tenantId, ip: context.ip }
      : (inherited?.identity ?? anonymous);
  return {
    priority,
    operationType,
    // Only reads: 'critical' is about priority and its breaker, not about being safe to run twice.
    idempotent: context.idempotent ?? operationType === 'read',
    atomic: context.atomic ?? false,
    isWrite: operationType === 'write' || operationType === 'batch',
    policy: context.policy,
    identity,
    signal: combineSignals(inherited?.signal, context.signal),
    deadline,
    breaker: context.breaker ?? inherited?.breaker ?? defaultBreaker(priority, operationType),
    label: context.label ?? inherited?.label,
    progress: inherited?.progress,
    admitted: context.admitted === true || inherited?.progress?.admitted === true,
  };
}

/** What a `withContext` block or a running operation passes down to the operations inside it. */
export function toInherited(context: RunContext, resolved: ResolvedContext): InheritedContext {
  return {
    priority: resolved.priority,
    explicitPriority: context.priority !== undefined,
    operationType: resolved.operationType,
    identity: resolved.identity,
    signal: resolved.signal,
    deadline: resolved.deadline,
    breaker: resolved.breaker,
    label: resolved.label,
    progress: resolved.progress,
  };
}
