import { Priority, SafeguardError } from '@db-safeguards/core';
import { type SafeguardsMeta, safeguardsErrorFormatter } from '@db-safeguards/trpc';
import type { TRPCMiddlewareFunction } from '@trpc/server';
import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { authenticate } from '../db/index.js';
import type { RequestContext } from './context.js';
import { tokenPolicyName } from './token-policy.js';

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
 * costs one lookup, not one per call. Unknown tokens are charged to the caller's IP under their own
 * policy, `token` (20 per 15 minutes), apart from sign-in's `auth`, so stale tokens never use up an
 * IP's sign-ins. Past the limit an unknown token gets 429 instead of 401, and the IP's lookups run at
 * BATCH priority, so a flood of guesses only uses slots no one else is waiting for; a valid token is
 * still looked up and accepted, whatever other tokens the same IP (a shared NAT) sent. It runs before
 * `safeguarded` (whose per-user rate limit needs the user).
 */
const authenticated = t.middleware(async ({ ctx, next }) => {
  if (!ctx.token) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Please sign in to continue.' });
  let user = ctx.sessions.get(ctx.token);
  if (!user) {
    const guessing = ctx.sessions.isBlocked(ctx.ip) !== undefined;
    user = guessing
      ? await ctx.safeguards.withContext({ priority: Priority.BATCH }, () => authenticate(ctx.db, ctx.token!))
      : await authenticate(ctx.db, ctx.token);
    if (!user) {
      const charge = await ctx.safeguards.rateLimiter.check(tokenPolicyName, { ip: ctx.ip });
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
    message: 'Too many unknown or expired sessions from your network. Please wait, then sign in again.',
    cause: new SafeguardError({
      type: 'RATE_LIMIT',
      reason: `rate-limit-${tokenPolicyName}`,
      retryAfterMs,
      notApplied: true,
    }),
  });
}

/** For procedures anyone may call (sign-in): rate limited by IP. */
export const publicProcedure = t.procedure.use(safeguarded);

/** For everything else: the caller is signed in (`ctx.user`) and rate limited per user. */
export const protectedProcedure = t.procedure.use(authenticated).use(safeguarded);
