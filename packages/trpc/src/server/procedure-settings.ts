import { type OperationType, type Priority, type PriorityName, parsePriority } from '@db-safeguards/core';

/**
 * Per-procedure settings, given through tRPC meta:
 * `t.procedure.meta({ priority: Priority.HIGH, rateLimit: 'recording', idempotent: true })`.
 * Declare your meta type as (or extending) this: `initTRPC.meta<SafeguardsMeta>()`.
 */
export interface SafeguardsMeta {
  /** Queue priority of the database work inside. Default NORMAL. */
  priority?: Priority | PriorityName;
  /** Default 'read' for queries and subscriptions, 'write' for mutations. */
  operationType?: OperationType;
  /** Rate-limit policy charged once per call, or `false` for none. Default: the middleware's `defaultRateLimit`. */
  rateLimit?: string | false;
  /**
   * The whole procedure may safely run twice (a mutation with an idempotency key). Default: true for
   * queries, false for mutations. Decides whether clients are told a failed call is worth retrying.
   */
  idempotent?: boolean;
  /** Circuit breaker name. Default: by priority (CRITICAL → critical, BATCH → batch, else primary). */
  breaker?: string;
  /** Deadline of the call, in ms from its start. Default: the middleware's `timeoutMs`. */
  timeoutMs?: number;
}

export interface ProcedureSettings {
  priority: Priority;
  operationType: OperationType;
  rateLimit: string | undefined;
  idempotent: boolean;
  breaker: string | undefined;
  timeoutMs: number | undefined;
}

/** Meta over defaults: queries are NORMAL, read, idempotent; mutations are NORMAL, write, not idempotent. */
export function resolveProcedureSettings(
  meta: SafeguardsMeta | undefined,
  type: 'query' | 'mutation' | 'subscription',
  defaults: { rateLimit: string | false; timeoutMs: number | undefined },
): ProcedureSettings {
  const isMutation = type === 'mutation';
  const priority = meta?.priority === undefined ? 2 : parsePriority(meta.priority);
  if (priority === undefined)
    throw new TypeError(`Expected meta.priority to be a Priority or its name, got ${String(meta?.priority)}`);
  const rateLimit = meta?.rateLimit === undefined ? defaults.rateLimit : meta.rateLimit;
  return {
    priority,
    operationType: meta?.operationType ?? (isMutation ? 'write' : 'read'),
    rateLimit: rateLimit === false ? undefined : rateLimit,
    idempotent: meta?.idempotent ?? !isMutation,
    breaker: meta?.breaker,
    timeoutMs: meta?.timeoutMs ?? defaults.timeoutMs,
  };
}
