import { type SafeguardError, toUserFriendlyError } from '@db-safeguards/core';
import type { TRPCDefaultErrorShape, TRPCError } from '@trpc/server';
import type { UserFriendlyErrorData } from '../user-friendly-data.js';
import { isProcedureRefusal, toSafeguardError } from './error-mapping.js';
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
  /**
   * Your own formatter; its shape is extended, not replaced. A `message` it changes is kept, unless it
   * repeats the error's raw text (then the user-facing message is sent instead).
   */
  format?: (input: FormatterInput) => TShape;
  /**
   * Keep stack traces in error bodies. Default: only when NODE_ENV is not 'production' (read once,
   * when the formatter is created). Even then the message and `userFriendly` never carry database detail.
   */
  exposeStack?: boolean;
}

/** What {@link userFriendlyData} may know about the call that failed. */
export interface UserFriendlyDataOptions {
  /**
   * The kind of call (the formatter's and `responseMeta`'s `type`). Used when the safeguards
   * middleware did not see the call (a procedure without it, or a middleware before it failed): a
   * mutation it did not see counts as not idempotent.
   */
  type?: FormatterInput['type'];
}

/**
 * The client-facing part of an error for the call that produced it. `retryable` is narrowed for
 * mutations: running one again is only safe when it is idempotent, or when the call as a whole
 * certainly applied nothing: it was refused before its body ran (rate limit, breaker, load shedding),
 * its first database operation was shed for load, or the procedure itself refused it (a TRPCError
 * with a 4xx code). An error of one database operation inside the body (a full queue, a serialization
 * failure) says nothing of the writes the body made before it, so it does not make a mutation
 * retryable.
 */
export function userFriendlyData(
  error: unknown,
  options: UserFriendlyDataOptions = {},
): UserFriendlyErrorData {
  const classified: SafeguardError = toSafeguardError(error);
  const facts = callFactsOf(classified);
  const mutation = (facts?.type ?? options.type) === 'mutation';
  const idempotent = facts?.idempotent ?? !mutation;
  // A call shed for load (`overloaded`) inside its body was refused at its first database operation:
  // the core checks the load only until a call's first operation has started, so none of its
  // database work ran.
  const callNotApplied =
    classified.notApplied &&
    (facts?.bodyRan === false || isProcedureRefusal(classified) || classified.reason === 'overloaded');
  const retryable = classified.retryable && (!mutation || idempotent || callNotApplied);
  const friendly = toUserFriendlyError(classified, {
    degraded: facts?.degraded ?? classified.reason === 'read-only',
  });
  // The core's client view without the fields this payload does not carry (the HTTP status is the
  // response's own, the severity is for the server's log).
  const { severity: _severity, httpStatus: _httpStatus, ...data } = friendly;
  data.retryable = retryable;
  if (!retryable) data.retryAfterMs = null;
  return data;
}

function isProduction(): boolean {
  return (
    (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.NODE_ENV ===
    'production'
  );
}

// Shorter raw texts are only refused when the message is exactly them: a substring check on a
// two-letter driver message would refuse almost any message.
const minimumRawTextLength = 8;

/**
 * Does `message` repeat any text of the error chain that was not written for users (a driver's
 * message, a connection string, a SafeguardError's internal summary)? `safe` is the user message.
 */
function repeatsRawText(message: string, error: unknown, safe: string): boolean {
  const seen = new Set<unknown>();
  let node: unknown = error;
  while (typeof node === 'object' && node !== null && !seen.has(node) && seen.size < 16) {
    seen.add(node);
    const { message: raw, internalMessage } = node as { message?: unknown; internalMessage?: unknown };
    for (const text of [raw, internalMessage]) {
      if (typeof text !== 'string' || text.length === 0 || text === safe) continue;
      if (message === text || (text.length >= minimumRawTextLength && message.includes(text))) return true;
    }
    node = (node as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * An `errorFormatter` for `initTRPC.create({ errorFormatter: safeguardsErrorFormatter() })`: adds
 * `data.userFriendly` (typed on the client through tRPC's inference), sets the message to the
 * user-facing one unless your `format` wrote its own, and drops stack traces in production. A message
 * of yours that repeats the error's raw text (a database message) is replaced all the same.
 *
 * @example
 * const t = initTRPC.context<Context>().create({
 *   transformer: superjson,
 *   errorFormatter: safeguardsErrorFormatter(),
 * });
 * // On the client: error.data.userFriendly is UserFriendlyErrorData, switch on its type and reason.
 */
export function safeguardsErrorFormatter<TShape extends TRPCDefaultErrorShape = TRPCDefaultErrorShape>(
  options: SafeguardsErrorFormatterOptions<TShape> = {},
): (input: FormatterInput) => ShapeWithUserFriendly<TShape> {
  const exposeStack = options.exposeStack ?? !isProduction();
  return (input) => {
    const base = options.format ? options.format(input) : (input.shape as TShape);
    const userFriendly = userFriendlyData(input.error, { type: input.type });
    const data: Record<string, unknown> = { ...base.data, userFriendly };
    if (!exposeStack) delete data.stack;
    const own =
      base.message !== input.shape.message &&
      !repeatsRawText(base.message, input.error, userFriendly.message);
    const message = own ? base.message : userFriendly.message;
    return { ...base, message, data } as unknown as ShapeWithUserFriendly<TShape>;
  };
}
