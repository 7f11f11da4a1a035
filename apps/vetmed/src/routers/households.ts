import { SafeguardError } from '@db-safeguards/core';
import { TRPCError } from '@trpc/server';
import { and, eq } from 'drizzle-orm';
import { z } from 'zod';
import {
  createHousehold,
  householdInvitations,
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
import { invitationTtlMs, lastOwner } from './invitations.js';

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

  /**
   * Owners invite an email address as owner, caregiver or vet; the person joins only by accepting
   * (`invitations.accept`). The answer is the same whether or not the address has an account, so the
   * household's owners cannot probe who uses the app; inviting again renews the invitation.
   */
  invite: protectedProcedure
    .input(householdInput.extend({ email: z.email().max(254), role: z.enum(membershipRole.enumValues) }))
    .mutation(async ({ ctx, input }) => {
      await requireHouseholdRole(ctx.db, ctx.user.id, input.householdId, can.administer);
      const email = normaliseEmail(input.email);
      const expiresAt = new Date(Date.now() + invitationTtlMs);
      await ctx.db
        .insert(householdInvitations)
        .values({
          householdId: input.householdId,
          email,
          role: input.role,
          invitedBy: ctx.user.id,
          expiresAt,
        })
        .onConflictDoUpdate({
          target: [householdInvitations.householdId, householdInvitations.email],
          set: { role: input.role, invitedBy: ctx.user.id, expiresAt },
        });
      return { invited: true as const, email, role: input.role, expiresAt };
    }),

  /**
   * Owners change a member's role. A change that would leave the household without an owner (an
   * owner demoting themselves, or the last owner) is refused: CONFLICT `last-owner`. The household
   * row is locked first, so two owners demoting each other at once cannot both succeed.
   */
  setRole: protectedProcedure
    .input(householdInput.extend({ userId: id, role: z.enum(membershipRole.enumValues) }))
    .mutation(async ({ ctx, input }) => {
      await requireHouseholdRole(ctx.db, ctx.user.id, input.householdId, can.administer);
      return ctx.db.transaction(async (tx) => {
        await tx
          .select({ id: households.id })
          .from(households)
          .where(eq(households.id, input.householdId))
          .for('update');
        const [member] = await tx
          .update(memberships)
          .set({ role: input.role })
          .where(and(eq(memberships.householdId, input.householdId), eq(memberships.userId, input.userId)))
          .returning();
        // A SafeguardError, not a TRPCError: thrown inside the transaction, it rolls back and keeps its type.
        if (!member)
          throw new SafeguardError({
            type: 'NOT_FOUND',
            userMessage: 'That person is not a member of this household.',
            notApplied: true,
          });
        const owners = await tx
          .select({ userId: memberships.userId })
          .from(memberships)
          .where(and(eq(memberships.householdId, input.householdId), eq(memberships.role, 'owner')));
        if (owners.length === 0) throw lastOwner();
        return member;
      });
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
