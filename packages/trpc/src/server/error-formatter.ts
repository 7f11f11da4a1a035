import type { SafeguardError } from '@db-safeguards/core';
import type { TRPCDefaultErrorShape, TRPCError } from '@trpc/server';
import type { UserFriendlyErrorData } from '../user-friendly-data.js';
import { toSafeguardError } from './error-mapping.js';
import { callFactsOf } from './request-state.js';

/** What a formatter receives (the fields of tRPC's ErrorFormatterOptions that matter here). */
export interface FormatterInput {
  error: TRPCError;
  type: 'query' | 'mutation' | 'subscription' | 'unknown';
  path: string | undefined;
  input: unknown;
  ctx: unknown;
  shape: TRPCDefaultErrorShape;
}

export type ShapeWithUserFriendly<TShape extends TRPCDefaultErrorShape> = Omit<TShape, 'data'> & {
  data: TShape['data'] & { userFriendly: UserFriendlyErrorData };
};

export interface SafeguardsErrorFormatterOptions<TShape extends TRPCDefaultErrorShape> {
  /** Your own formatter; its shape is extended, not replaced. */
  format?: (input: FormatterInput) => TShape;
  /**
   * Keep stack traces in error bodies. Default: only when NODE_ENV is not 'production'. Even then the
   * message and `userFriendly` never carry database detail.
   */
  exposeStack?: boolean;
}

/**
 * The client-facing part of an error for the call that produced it. `retryable` is narrowed for
 * mutations: a write whose outcome is unknown is not worth retrying blindly unless the procedure is
 * idempotent.
 */
export function userFriendlyData(error: unknown): UserFriendlyErrorData {
  const classified: SafeguardError = toSafeguardError(error);
  const facts = callFactsOf(classified);
  const mutation = facts?.type === 'mutation';
  const retryable = classified.retryable && (!mutation || facts.idempotent || classified.notApplied);
  const data: UserFriendlyErrorData = {
    type: classified.type,
    reason: classified.reason,
    message: classified.userMessage,
    suggestedActions: [...classified.suggestedActions],
    retryable,
    retryAfterMs: retryable ? (classified.retryAfterMs ?? null) : null,
    errorId: classified.errorId,
    degraded: facts?.degraded ?? classified.reason === 'read-only',
  };
  if (classified.issues) data.issues = classified.issues.map((issue) => ({ ...issue }));
  return data;
}

function isProduction(): boolean {
  return (
    (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.NODE_ENV ===
    'production'
  );
}

/**
 * An `errorFormatter` for `initTRPC.create({ errorFormatter: safeguardsErrorFormatter() })`: adds
 * `data.userFriendly` (typed on the client through tRPC's inference), replaces the message with the
 * user-facing one, and drops stack traces in production.
 */
export function safeguardsErrorFormatter<TShape extends TRPCDefaultErrorShape = TRPCDefaultErrorShape>(
  options: SafeguardsErrorFormatterOptions<TShape> = {},
): (input: FormatterInput) => ShapeWithUserFriendly<TShape> {
  return (input) => {
    const base = options.format ? options.format(input) : (input.shape as TShape);
    const userFriendly = userFriendlyData(input.error);
    const data: Record<string, unknown> = { ...base.data, userFriendly };
    if (!(options.exposeStack ?? !isProduction())) delete data.stack;
    return { ...base, message: userFriendly.message, data } as unknown as ShapeWithUserFriendly<TShape>;
  };
}
