import { Priority, type RunContext, SafeguardError, type Safeguards } from '@db-safeguards/core';
import {
  addressGroup,
  createSafeguardsMiddleware,
  resolveProcedureSettings,
  type SafeguardsMeta,
  safeguardsErrorFormatter,
  toTRPCError,
} from '@db-safeguards/trpc';
import type { TRPCMiddlewareFunction } from '@trpc/server';
import { initTRPC, TRPCError } from '@trpc/server';
import { authenticateSession, type PublicUser } from '../db/index.js';
import type { RequestContext } from './context.js';
import { authenticateOrRemember } from './remembered-session.js';
import { staleWhileUnavailable } from './stale-while-unavailable.js';
import { assertTokenPolicy, tokenPolicyName } from './token-policy.js';
import { wireTransformer } from './wire-transformer.js';

/**
 * The one tRPC instance. Errors always carry `data.userFriendly` and never a stack trace (the server
 * log has those, with the same error ID). Superjson on the wire, answers written by a faster writer
 * of the same format (wire-transformer.ts).
 */
const t = initTRPC
  .context<RequestContext>()
  .meta<SafeguardsMeta>()
  .create({
    transformer: wireTransformer,
    isDev: false,
    errorFormatter: safeguardsErrorFormatter({ exposeStack: false }),
  });

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

type Guard = TRPCMiddlewareFunction<RequestContext, SafeguardsMeta, object, object, unknown>;

/** What a server registers for its safeguards instance. */
interface GuardRegistration {
  /** The safeguards middleware built for the instance. */
  guard: Guard;
  /** The deadline of a call whose meta sets none. */
  timeoutMs: number;
}

const guards = new WeakMap<object, GuardRegistration>();

/**
 * Builds and registers the safeguards middleware of this server's safeguards instance, with the
 * deadline of a call whose meta sets none (which the token lookup uses too). The procedures are
 * defined once at module level, so they find both through the context.
 *
 * @throws TypeError when the safeguards lack the app's `token` rate-limit policy (see `withTokenPolicy`).
 */
export function registerGuard(safeguards: Safeguards, options: { timeoutMs: number }): void {
  assertTokenPolicy(safeguards);
  guards.set(safeguards, {
    guard: createSafeguardsMiddleware<RequestContext>(safeguards, {
      identify: (ctx) => ({ userId: ctx.user?.id, ip: ctx.ip }),
      timeoutMs: options.timeoutMs,
    }),
    timeoutMs: options.timeoutMs,
  });
}

function registrationOf(safeguards: object): GuardRegistration {
  const registration = guards.get(safeguards);
  if (!registration)
    throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'safeguards middleware not registered' });
  return registration;
}

const safeguarded = t.middleware(
  (opts) => registrationOf(opts.ctx.safeguards).guard(opts) as ReturnType<typeof opts.next>,
);

/**
 * Resolves the bearer token to a user. A verified token is cached for a few seconds so a busy client
 * costs one lookup, not one per call. Unknown tokens are charged to the caller's IP under their own
 * policy, `token` (20 per 15 minutes), apart from sign-in's `auth`, so stale tokens never use up an
 * IP's sign-ins. Past the limit an unknown token gets 429 instead of 401, and the IP gets one lookup
 * at a time, at BATCH priority: other uncached tokens from it meanwhile get the 429 at once, without
 * a lookup, so a flood of guesses holds at most one waiter of the BATCH lane and cannot displace real
 * imports or keep the queue busy (which would tighten the adaptive rate limits for everyone). A valid
 * token from that IP (a shared NAT) is still accepted once its lookup gets the turn, and a cached one
 * at once. It runs before `safeguarded` (whose per-user rate limit needs the user), with the
 * procedure's own settings.
 */
const authenticated = t.middleware(async ({ ctx, next, meta, type, signal, path }) => {
  if (!ctx.token) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Please sign in to continue.' });
  const token = ctx.token;
  const cached = ctx.sessions.get(token);
  if (cached) return next({ ctx: { user: cached } });
  // One lookup per request, whatever the number of calls in its batch: they all share its outcome.
  ctx.session.lookup ??= lookUpSession(ctx, token, meta, type, signal, path);
  let user: PublicUser | undefined;
  try {
    user = await ctx.session.lookup;
  } catch (error) {
    // A lookup shed by a full queue, or refused by an open breaker, is a typed 503 with Retry-After.
    throw error instanceof TRPCError ? error : toTRPCError(error);
  }
  if (!user)
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Your session has expired. Please sign in again.' });
  return next({ ctx: { user } });
});

/**
 * The session lookup of one request: undefined for a token no user holds (charged to the IP's
 * `token` limit, a 429 once over it).
 */
async function lookUpSession(
  ctx: RequestContext,
  token: string,
  meta: SafeguardsMeta | undefined,
  type: 'query' | 'mutation' | 'subscription',
  signal: AbortSignal | undefined,
  path: string,
): Promise<PublicUser | undefined> {
  const ip = ctx.ip === undefined ? undefined : addressGroup(ctx.ip);
  // The lookup is the request's first database work: it runs with the priority, deadline and abort
  // signal of the call that started it (the first of its batch); each call then gets its own deadline
  // from the safeguards middleware.
  const settings = resolveProcedureSettings(meta, type, {
    rateLimit: false,
    timeoutMs: registrationOf(ctx.safeguards).timeoutMs,
  });
  const context: RunContext = {
    priority: settings.priority,
    operationType: settings.operationType,
    signal,
    label: path,
    ip,
    ...(settings.breaker === undefined ? {} : { breaker: settings.breaker }),
    ...(settings.timeoutMs === undefined ? {} : { timeoutMs: settings.timeoutMs }),
  };
  return ctx.safeguards.withContext(context, async () => {
    // The per-IP check for unknown tokens comes before the lookup.
    const blockedMs = ctx.sessions.isBlocked(ip);
    let session: Awaited<ReturnType<typeof authenticateSession>>;
    if (blockedMs === undefined) {
      const verified = await authenticateOrRemember(ctx.db, ctx.sessions, token);
      // Remembered while the database is unavailable: answered, but not cached as newly verified.
      if (verified.remembered) return verified.user;
      session = verified.session;
    } else {
      if (!ctx.sessions.beginBlockedLookup(ip)) throw tooManyBadTokens(blockedMs);
      try {
        session = await ctx.safeguards.withContext({ priority: Priority.BATCH }, () =>
          authenticateSession(ctx.db, token),
        );
      } finally {
        ctx.sessions.endBlockedLookup(ip);
      }
    }
    if (!session) {
      // Signed out or expired (perhaps on another instance): the edge must not charge it to its old user.
      ctx.sessions.delete(token);
      const charge = await ctx.safeguards.rateLimiter.check(tokenPolicyName, { ip });
      if (!charge.allowed) {
        ctx.sessions.block(ip, Date.now() + charge.retryAfterMs);
        throw tooManyBadTokens(charge.retryAfterMs);
      }
      return undefined;
    }
    ctx.sessions.set(token, session.user, Date.now(), session.expiresAt.getTime());
    return session.user;
  });
}

function tooManyBadTokens(retryAfterMs: number): TRPCError {
  return new TRPCError({
    code: 'TOO_MANY_REQUESTS',
    message: 'Too many unknown or expired sessions from your network. Please wait, then sign in again.',
    cause: new SafeguardError({
      type: 'RATE_LIMIT',
      reason: 'rate-limit',
      retryAfterMs,
      notApplied: true,
    }),
  });
}

/** For procedures anyone may call (sign-in): rate limited by IP. */
export const publicProcedure = t.procedure.use(safeguarded);

/** For everything else: the caller is signed in (`ctx.user`) and rate limited per user. */
export const protectedProcedure = t.procedure.use(authenticated).use(safeguarded);

/**
 * For reads that may answer their last good value while the database is unavailable
 * (trpc/stale-while-unavailable.ts): signed in as {@link protectedProcedure}; the body returns
 * `fresh(value)` and the client gets `MaybeStale<T>`.
 */
export const staleReadProcedure = t.procedure.use(authenticated).use(staleWhileUnavailable).use(safeguarded);

/**
 * Signed in, without the safeguards middleware yet: for a procedure that puts its own middleware
 * between its validated input and the safeguards (`administrations.record` and its deferral), then
 * adds {@link safeguardsMiddleware} itself.
 */
export const authenticatedProcedure = t.procedure.use(authenticated);

/** The safeguards middleware, for procedures built on {@link authenticatedProcedure}. */
export const safeguardsMiddleware = safeguarded;
