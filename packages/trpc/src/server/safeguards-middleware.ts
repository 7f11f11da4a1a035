import type { RequestIdentity, Safeguards } from '@db-safeguards/core';
import { initTRPC, type TRPCMiddlewareFunction } from '@trpc/server';
import type { TrustProxy } from './client-ip.js';
import { toSafeguardError, toTRPCError } from './error-mapping.js';
import {
  callRunContext,
  type ProcedureSettingsResolver,
  procedureSettingsCache,
  type SafeguardsMeta,
} from './procedure-settings.js';
import { requestIdentity } from './request-identity.js';
import { rememberCallFacts, requestState, toRateLimitInfo } from './request-state.js';

export interface SafeguardsMiddlewareOptions<TContext> {
  /**
   * Who is calling, from the context: the rate-limit key is the user, else the tenant, else the IP,
   * else one anonymous key shared by every such caller. Only `userId`, `tenantId` and `ip` are read
   * from what it returns. When it gives no `ip` (or is omitted), the IP is read from `ctx.req` if the
   * context carries the request (`createContext: ({ req }) => ({ req, ... })`), as `trustProxy` says.
   */
  identify?: (ctx: TContext) => RequestIdentity;
  /**
   * Whose X-Forwarded-For to believe when the IP is read from `ctx.req` (see `clientIp`). Default
   * `false`: the socket's peer. A Fetch `Request` has no peer: there, return `ip` from `identify`
   * (from your platform) or set this.
   */
  trustProxy?: TrustProxy;
  /** Policy charged by procedures whose meta sets none. Default 'api' (100/min); `false` for none. */
  defaultRateLimit?: string | false;
  /** Deadline of every call without its own `meta.timeoutMs`. Default: the safeguards' `defaultTimeoutMs`. */
  timeoutMs?: number;
}

/**
 * The safeguards instance of a middleware: the instance itself, or a function that finds it in the
 * call's context (one router served by several instances, e.g. one per server in tests).
 */
export type SafeguardsSource<TContext> = Safeguards | ((ctx: TContext) => Safeguards);

/** The parts of tRPC's middleware options the safeguards use. */
interface MiddlewareCall<TMeta, TResult> {
  ctx: object;
  meta: TMeta | undefined;
  type: 'query' | 'mutation' | 'subscription';
  path: string;
  signal: AbortSignal | undefined;
  next: () => Promise<TResult>;
}

/** The body shared by the `.use()` and `.concat()` forms. */
async function guardCall<TResult extends { ok: boolean; error?: unknown }, TContext extends object>(
  source: SafeguardsSource<TContext>,
  options: SafeguardsMiddlewareOptions<TContext>,
  settingsFor: ProcedureSettingsResolver,
  call: MiddlewareCall<SafeguardsMeta, TResult>,
): Promise<TResult> {
  const safeguards = typeof source === 'function' ? source(call.ctx as TContext) : source;
  const settings = settingsFor(call.meta, call.type);
  const identity = requestIdentity(
    options.identify?.(call.ctx as TContext),
    (call.ctx as { req?: unknown }).req,
    options.trustProxy ?? false,
  );
  const context = callRunContext(settings, identity, call.path);
  context.signal = call.signal;
  if (settings.timeoutMs !== undefined) context.timeoutMs = settings.timeoutMs;
  const state = requestState(call.ctx);
  const facts = { type: call.type, idempotent: settings.idempotent, degraded: false, bodyRan: false };
  // Charged already at the edge (admitCalls): take that outcome instead of charging the call twice.
  const precharged = state?.precharged.get(call.path)?.shift();
  if (precharged?.rateLimit && state) state.rateLimits.push(precharged.rateLimit);
  if (precharged?.refusal) {
    rememberCallFacts(precharged.refusal, facts);
    throw toTRPCError(precharged.refusal);
  }
  // A call the edge admitted moments ago (every check of `admit`, before the body was read) is not
  // checked twice: its first operation checks read-only mode, the breaker and the queue again anyway.
  if (precharged?.fullyAdmitted !== true) {
    try {
      // A call that went through `admitCalls` or the edge (which passes on what the breaker or
      // read-only mode refused, under `refuseUnavailable: false`) is checked again, charged only if
      // it was not charged then, and was counted in the load's admitted share then.
      const admission = await safeguards.admit({
        ...context,
        ...(settings.rateLimit !== undefined &&
          precharged?.charged !== true && { policy: settings.rateLimit }),
        ...(precharged && { admitted: true }),
      });
      if (admission.rateLimit && state) state.rateLimits.push(toRateLimitInfo(admission.rateLimit));
    } catch (error) {
      const refused = toSafeguardError(error);
      if (refused.rateLimit && state) state.rateLimits.push(refused.rateLimit);
      rememberCallFacts(refused, { ...facts, degraded: refused.reason === 'read-only' });
      throw toTRPCError(refused);
    }
  }
  // Its first operation checks the load again, without counting the call a second time. (The
  // context is this call's own: set, not copied.)
  context.admitted = true;
  const result = await safeguards.withContext(context, () => call.next());
  if (result.ok) return result;
  const failure = toSafeguardError(result.error);
  rememberCallFacts(failure, {
    ...facts,
    degraded: failure.reason === 'read-only' || safeguards.readOnly.status().active,
    bodyRan: true,
  });
  throw toTRPCError(result.error);
}

/**
 * The tRPC middleware: `t.procedure.use(createSafeguardsMiddleware(safeguards, options))`.
 *
 * Before the procedure body runs it charges the rate limit and checks the breaker and load shedding
 * (`safeguards.admit`), each failing fast with a typed error. The body then runs inside the
 * safeguards context: priority, breaker, identity, and a deadline from the request's AbortSignal and
 * the timeout, inherited by every database call inside it. Errors the body throws are translated so
 * a client never sees a raw database message. `safeguards` is the instance, or a function of the
 * call's context that returns it.
 *
 * @example
 * const safeguards = createSafeguards();
 * const t = initTRPC.context<{ userId?: string }>().meta<SafeguardsMeta>().create();
 * const procedure = t.procedure.use(
 *   createSafeguardsMiddleware(safeguards, { identify: (ctx) => ({ userId: ctx.userId }) }),
 * );
 * // or, when the context carries the instance:
 * const fromContext = createSafeguardsMiddleware((ctx: { safeguards: Safeguards }) => ctx.safeguards);
 */
export function createSafeguardsMiddleware<
  TContext extends object = object,
  TMeta extends SafeguardsMeta = SafeguardsMeta,
>(
  safeguards: SafeguardsSource<TContext>,
  options: SafeguardsMiddlewareOptions<TContext> = {},
): TRPCMiddlewareFunction<TContext, TMeta, object, object, unknown> {
  const settingsFor = procedureSettingsCache({
    rateLimit: options.defaultRateLimit ?? 'api',
    timeoutMs: options.timeoutMs,
  });
  return (opts) => guardCall(safeguards, options, settingsFor, opts);
}

/**
 * The same middleware as a procedure builder for `.concat()`:
 * `const procedure = t.procedure.concat(createSafeguardsPlugin<Context>(safeguards, options))`.
 * `TContext` is the part of your context the plugin needs (what `identify` reads): give it
 * explicitly or annotate `identify`'s parameter. Your meta must extend {@link SafeguardsMeta}.
 */
export function createSafeguardsPlugin<TContext extends object = object>(
  safeguards: SafeguardsSource<TContext>,
  options: SafeguardsMiddlewareOptions<TContext> = {},
) {
  const settingsFor = procedureSettingsCache({
    rateLimit: options.defaultRateLimit ?? 'api',
    timeoutMs: options.timeoutMs,
  });
  const t = initTRPC.context<TContext>().meta<SafeguardsMeta>().create();
  return t.procedure.use((opts) => guardCall(safeguards, options, settingsFor, opts));
}
