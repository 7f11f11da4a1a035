import { SafeguardError } from '@db-safeguards/core';
import { type SafeguardsMeta, safeguardsErrorFormatter } from '@db-safeguards/trpc';
import type { TRPCMiddlewareFunction } from '@trpc/server';
import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { authenticate } from '../db/index.js';
import type { RequestContext } from './context.js';

/**
 * The one tRPC instance. Errors always carry `data.userFriendly` and never a stack trace (the server
 * log has those, with the same error ID).
 */
const t = initTRPC
  .context<RequestContext>()
  .meta<SafeguardsMeta>()
  .create({
    transformer: superjson,
    isDev: false,
    errorFormatter: safeguardsErrorFormatter({ exposeStack: false }),
  });

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

type Guard = TRPCMiddlewareFunction<RequestContext, SafeguardsMeta, object, object, unknown>;
const guards = new WeakMap<object, Guard>();

/**
 * Registers the safeguards middleware built for this server's safeguards instance. The procedures are
 * defined once at module level, so the middleware finds its instance through the context.
 */
export function registerGuard(safeguards: object, guard: Guard): void {
  guards.set(safeguards, guard);
}

const safeguarded = t.middleware((opts) => {
  const guard = guards.get(opts.ctx.safeguards);
  if (!guard)
    throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'safeguards middleware not registered' });
  return guard(opts) as ReturnType<typeof opts.next>;
});

/**
 * Resolves the bearer token to a user. A verified token is cached for a few seconds so a busy client
 * costs one lookup, not one per call. Unknown tokens are charged to the caller's IP under the `auth`
 * policy (5 per 15 minutes): past it, that IP's unknown tokens are refused without a lookup, so
 * guessing tokens cannot spend the connection budget. It runs before `safeguarded` (whose per-user
 * rate limit needs the user), so the lookup runs outside the request's safeguards context: no request
 * deadline, abort signal, priority or identity, only the safeguards' defaults.
 */
const authenticated = t.middleware(async ({ ctx, next }) => {
  if (!ctx.token) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Please sign in to continue.' });
  let user = ctx.sessions.get(ctx.token);
  if (!user) {
    const blockedForMs = ctx.sessions.isBlocked(ctx.ip);
    if (blockedForMs !== undefined) throw tooManyBadTokens(blockedForMs);
    user = await authenticate(ctx.db, ctx.token);
    if (!user) {
      const charge = await ctx.safeguards.rateLimiter.check('auth', { ip: ctx.ip });
      if (!charge.allowed) {
        ctx.sessions.block(ctx.ip, Date.now() + charge.retryAfterMs);
        throw tooManyBadTokens(charge.retryAfterMs);
      }
      throw new TRPCError({
        code: 'UNAUTHORIZED',
        message: 'Your session has expired. Please sign in again.',
      });
    }
    ctx.sessions.set(ctx.token, user);
  }
  return next({ ctx: { user } });
});

function tooManyBadTokens(retryAfterMs: number): TRPCError {
  return new TRPCError({
    code: 'TOO_MANY_REQUESTS',
    message: 'Too many failed sign-in attempts. Please wait before trying again.',
    cause: new SafeguardError({
      type: 'RATE_LIMIT',
      reason: 'rate-limit-auth',
      retryAfterMs,
      notApplied: true,
    }),
  });
}

/** For procedures anyone may call (sign-in): rate limited by IP. */
export const publicProcedure = t.procedure.use(safeguarded);

/** For everything else: the caller is signed in (`ctx.user`) and rate limited per user. */
export const protectedProcedure = t.procedure.use(authenticated).use(safeguarded);
