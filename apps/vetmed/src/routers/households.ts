import { TRPCError } from '@trpc/server';
import { and, eq } from 'drizzle-orm';
import { z } from 'zod';
import {
  createHousehold,
  households,
  listHouseholdsOfUser,
  membershipRole,
  memberships,
  normaliseEmail,
  users,
} from '../db/index.js';
import { can, requireHouseholdRole } from '../trpc/access.js';
import { protectedProcedure, router } from '../trpc/init.js';
import { householdOverview } from './household-overview.js';
import { householdInput, id, name } from './inputs.js';

export const householdsRouter = router({
  list: protectedProcedure.query(({ ctx }) => listHouseholdsOfUser(ctx.db, ctx.user.id)),

  create: protectedProcedure
    .input(z.object({ name }))
    .mutation(({ ctx, input }) => createHousehold(ctx.db, { name: input.name, ownerId: ctx.user.id })),

  /** The household and its members (names, emails, roles). */
  get: protectedProcedure.input(householdInput).query(async ({ ctx, input }) => {
    const role = await requireHouseholdRole(ctx.db, ctx.user.id, input.householdId, can.read);
    const [household] = await ctx.db.select().from(households).where(eq(households.id, input.householdId));
    const members = await ctx.db
      .select({ userId: users.id, name: users.name, email: users.email, role: memberships.role })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(eq(memberships.householdId, input.householdId))
      .orderBy(users.name);
    return { ...household!, role, members };
  }),

  /** The household page's parts in one call; a part that fails leaves the rest (household-overview.ts). */
  overview: householdOverview,

  /** Owners add an existing user (by email) as owner, caregiver or vet. */
  addMember: protectedProcedure
    .input(householdInput.extend({ email: z.email(), role: z.enum(membershipRole.enumValues) }))
    .mutation(async ({ ctx, input }) => {
      await requireHouseholdRole(ctx.db, ctx.user.id, input.householdId, can.administer);
      const [user] = await ctx.db
        .select({ id: users.id })
        .from(users)
        .where(eq(users.email, normaliseEmail(input.email)));
      if (!user) throw new TRPCError({ code: 'NOT_FOUND', message: 'No account uses that email address.' });
      const [member] = await ctx.db
        .insert(memberships)
        .values({ householdId: input.householdId, userId: user.id, role: input.role })
        .onConflictDoUpdate({
          target: [memberships.householdId, memberships.userId],
          set: { role: input.role },
        })
        .returning();
      return member!;
    }),

  removeMember: protectedProcedure
    .input(householdInput.extend({ userId: id }))
    .mutation(async ({ ctx, input }) => {
      await requireHouseholdRole(ctx.db, ctx.user.id, input.householdId, can.administer);
      if (input.userId === ctx.user.id)
        throw new TRPCError({ code: 'BAD_REQUEST', message: 'Owners cannot remove themselves.' });
      const removed = await ctx.db
        .delete(memberships)
        .where(and(eq(memberships.householdId, input.householdId), eq(memberships.userId, input.userId)))
        .returning();
      return { removed: removed.length };
    }),
});
