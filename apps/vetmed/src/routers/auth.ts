import { SafeguardError } from '@db-safeguards/core';
import { addressGroup, toTRPCError } from '@db-safeguards/trpc';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { createUser, issueToken, normaliseEmail, revokeToken, signIn } from '../db/index.js';
import { protectedProcedure, publicProcedure, router } from '../trpc/init.js';
import { signInPolicyName } from '../trpc/token-policy.js';
import { name } from './inputs.js';

const email = z.email().max(254);
const credentials = z.object({ email, password: z.string().min(1).max(200) });

export const authRouter = router({
  /** Creates an account and signs it in. The `auth` limit (5 per 15 minutes per IP) applies. */
  signUp: publicProcedure
    .meta({ rateLimit: 'auth' })
    .input(z.object({ email, name, password: z.string().min(10).max(200) }))
    .mutation(async ({ ctx, input }) => issueToken(ctx.db, await createUser(ctx.db, input))),

  /**
   * Returns a bearer token (stored hashed) to send as `Authorization: Bearer <token>`. Charged to the
   * IP (`auth`) and to the account from this IP (`signin`, 5 per 15 minutes, forgiven on success).
   */
  signIn: publicProcedure
    .meta({ rateLimit: 'auth' })
    .input(credentials)
    .mutation(async ({ ctx, input }) => {
      const attempt = {
        userId: `${normaliseEmail(input.email)}|${ctx.ip === undefined ? '' : addressGroup(ctx.ip)}`,
      };
      const charge = await ctx.safeguards.rateLimiter.check(signInPolicyName, attempt);
      if (!charge.allowed)
        throw toTRPCError(
          new SafeguardError({
            type: 'RATE_LIMIT',
            reason: 'rate-limit',
            retryAfterMs: charge.retryAfterMs,
            notApplied: true,
            userMessage: 'Too many sign-in attempts for this account. Please wait, then try again.',
          }),
        );
      const session = await signIn(ctx.db, input);
      if (!session)
        throw new TRPCError({ code: 'UNAUTHORIZED', message: 'That email and password do not match.' });
      await ctx.safeguards.rateLimiter.reset(signInPolicyName, attempt);
      return session;
    }),

  signOut: protectedProcedure.mutation(async ({ ctx }) => {
    ctx.sessions.delete(ctx.token!);
    return { signedOut: await revokeToken(ctx.db, ctx.token!) };
  }),

  me: protectedProcedure.query(({ ctx }) => ctx.user),
});
