import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { createUser, issueToken, revokeToken, signIn } from '../db/index.js';
import { protectedProcedure, publicProcedure, router } from '../trpc/init.js';
import { name } from './inputs.js';

const email = z.email().max(254);
const credentials = z.object({ email, password: z.string().min(1).max(200) });

export const authRouter = router({
  /** Creates an account and signs it in. The `auth` limit (5 per 15 minutes per IP) applies. */
  signUp: publicProcedure
    .meta({ rateLimit: 'auth' })
    .input(z.object({ email, name, password: z.string().min(10).max(200) }))
    .mutation(async ({ ctx, input }) => issueToken(ctx.db, await createUser(ctx.db, input))),

  /** Returns a bearer token (stored hashed) to send as `Authorization: Bearer <token>`. */
  signIn: publicProcedure
    .meta({ rateLimit: 'auth' })
    .input(credentials)
    .mutation(async ({ ctx, input }) => {
      const session = await signIn(ctx.db, input);
      if (!session)
        throw new TRPCError({ code: 'UNAUTHORIZED', message: 'That email and password do not match.' });
      return session;
    }),

  signOut: protectedProcedure.mutation(async ({ ctx }) => {
    ctx.sessions.delete(ctx.token!);
    return { signedOut: await revokeToken(ctx.db, ctx.token!) };
  }),

  me: protectedProcedure.query(({ ctx }) => ctx.user),
});
