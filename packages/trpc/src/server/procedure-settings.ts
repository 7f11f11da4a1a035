import {
  type OperationType,
  type Priority,
  type PriorityName,
  parsePriority,
  type RequestIdentity,
  type RunContext,
} from '@db-safeguards/core';

/**
 * Per-procedure settings, given through tRPC meta:
 * `t.procedure.meta({ priority: Priority.HIGH, rateLimit: 'recording', idempotent: true })`.
 * Declare your meta type as (or extending) this: `initTRPC.meta<SafeguardsMeta>()`.
 */
export interface SafeguardsMeta {
  /**
   * Queue priority of the call and of the database work inside. Default: from `operationType`, as the
   * core derives it (CRITICAL for 'critical', BATCH for 'batch', else NORMAL); a call inside that
   * declares its own operation type then derives its own.
   */
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
  /** Set only when meta sets it: otherwise the core derives it from the operation type. */
  readonly priority: Priority | undefined;
  readonly operationType: OperationType;
  readonly rateLimit: string | undefined;
  readonly idempotent: boolean;
  readonly breaker: string | undefined;
  readonly timeoutMs: number | undefined;
}

/**
 * Meta over defaults: queries are read and idempotent, mutations write and not idempotent. The
 * priority stays undefined unless meta sets one, so that the core derives it from the operation type
 * and does not treat it as chosen on purpose (which calls inside would inherit).
 */
export function resolveProcedureSettings(
  meta: SafeguardsMeta | undefined,
  type: 'query' | 'mutation' | 'subscription',
  defaults: { rateLimit: string | false; timeoutMs: number | undefined },
): ProcedureSettings {
  const isMutation = type === 'mutation';
  const priority = meta?.priority === undefined ? undefined : parsePriority(meta.priority);
  if (meta?.priority !== undefined && priority === undefined)
    throw new TypeError(`Expected meta.priority to be a Priority or its name, got ${String(meta.priority)}`);
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

type CallType = 'query' | 'mutation' | 'subscription';

/** @internal The settings of a call from its procedure's meta and its type. */
export type ProcedureSettingsResolver = (
  meta: SafeguardsMeta | undefined,
  type: CallType,
) => ProcedureSettings;

/**
 * @internal {@link resolveProcedureSettings} for one middleware's `defaults`, resolved once per
 * procedure: tRPC hands every call of a procedure the same meta object, so the settings are kept per
 * meta object (and call type). Not exported from the package.
 */
export function procedureSettingsCache(defaults: {
  rateLimit: string | false;
  timeoutMs: number | undefined;
}): ProcedureSettingsResolver {
  const byMeta = new WeakMap<object, Partial<Record<CallType, ProcedureSettings>>>();
  const withoutMeta: Partial<Record<CallType, ProcedureSettings>> = {};
  return (meta, type) => {
    let byType = withoutMeta;
    if (meta !== undefined) {
      // Only objects can key a WeakMap; anything else (not a valid meta anyway) is resolved each time.
      if (typeof meta !== 'object' || meta === null) return resolveProcedureSettings(meta, type, defaults);
      let found = byMeta.get(meta);
      if (found === undefined) {
        found = {};
        byMeta.set(meta, found);
      }
      byType = found;
    }
    let settings = byType[type];
    if (settings === undefined) {
      settings = resolveProcedureSettings(meta, type, defaults);
      byType[type] = settings;
    }
    return settings;
  };
}

/**
 * The run context of one call of a procedure: the caller's identity, the procedure's settings and
 * its path as the label. Fields are set one by one, not spread: this runs for every call, at the edge
 * and in the middleware, and the spreads of optional parts made objects only to copy them.
 */
export function callRunContext(
  settings: ProcedureSettings,
  identity: RequestIdentity,
  label: string,
): RunContext {
  const context: RunContext = { operationType: settings.operationType, label };
  if (identity.userId !== undefined) context.userId = identity.userId;
  if (identity.tenantId !== undefined) context.tenantId = identity.tenantId;
  if (identity.ip !== undefined) context.ip = identity.ip;
  if (settings.priority !== undefined) context.priority = settings.priority;
  if (settings.breaker !== undefined) context.breaker = settings.breaker;
  return context;
}
