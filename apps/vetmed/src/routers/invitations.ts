import { SafeguardError } from '@db-safeguards/core';
import { TRPCError } from '@trpc/server';
import { and, eq, gt } from 'drizzle-orm';
import { z } from 'zod';
import type {} from '../app-error-reasons.js';
import { householdInvitations, households, memberships } from '../db/index.js';
import { protectedProcedure, router } from '../trpc/init.js';
import { id } from './inputs.js';

/** How long an invitation waits for its answer. */
export const invitationTtlMs = 14 * 24 * 3_600_000;

/**
 * The same answer for every invitation that is not the caller's to take: unknown, expired, or for
 * another address. Nothing here tells one from the other.
 */
function noSuchInvitation(): TRPCError {
  return new TRPCError({ code: 'NOT_FOUND', message: 'That invitation does not exist or has expired.' });
}

/** The invitee's side: the invitations sent to the signed-in user's email, to accept or decline. */
export const invitationsRouter = router({
  /** Pending invitations for the caller's email address, with the household's name and the role. */
  list: protectedProcedure.query(({ ctx }) =>
    ctx.db
      .select({
        id: householdInvitations.id,
        householdId: householdInvitations.householdId,
        householdName: households.name,
        role: householdInvitations.role,
        expiresAt: householdInvitations.expiresAt,
      })
      .from(householdInvitations)
      .innerJoin(households, eq(households.id, householdInvitations.householdId))
      .where(
        and(eq(householdInvitations.email, ctx.user.email), gt(householdInvitations.expiresAt, new Date())),
      )
      .orderBy(householdInvitations.createdAt),
  ),

  /**
   * Joins the household with the invited role. A caller who is a member already keeps their role
   * (an invitation never demotes anyone, so it cannot take a household's last owner away).
   */
  accept: protectedProcedure.input(z.object({ invitationId: id })).mutation(async ({ ctx, input }) => {
    const joined = await ctx.db.transaction(async (tx) => {
      const [invitation] = await tx
        .delete(householdInvitations)
        .where(
          and(
            eq(householdInvitations.id, input.invitationId),
            eq(householdInvitations.email, ctx.user.email),
            gt(householdInvitations.expiresAt, new Date()),
          ),
        )
        .returning();
      if (!invitation) return undefined;
      await tx
        .insert(memberships)
        .values({ householdId: invitation.householdId, userId: ctx.user.id, role: invitation.role })
        .onConflictDoNothing();
      const [membership] = await tx
        .select({ householdId: memberships.householdId, role: memberships.role })
        .from(memberships)
        .where(and(eq(memberships.householdId, invitation.householdId), eq(memberships.userId, ctx.user.id)));
      return membership!;
    });
    // Thrown outside the transaction: nothing was written for an invitation that is not theirs.
    if (!joined) throw noSuchInvitation();
    return joined;
  }),

  decline: protectedProcedure.input(z.object({ invitationId: id })).mutation(async ({ ctx, input }) => {
    const declined = await ctx.db
      .delete(householdInvitations)
      .where(
        and(eq(householdInvitations.id, input.invitationId), eq(householdInvitations.email, ctx.user.email)),
      )
      .returning({ id: householdInvitations.id });
    if (declined.length === 0) throw noSuchInvitation();
    return { declined: true };
  }),
});

/** Refusal of a change that would leave a household without an owner: CONFLICT, nothing written. */
export function lastOwner(): SafeguardError {
  return new SafeguardError({
    type: 'CONFLICT',
    reason: 'last-owner',
    userMessage: 'A household needs at least one owner: make someone else an owner first.',
    suggestedActions: ['Give another member the owner role, then change your own.'],
    notApplied: true,
  });
}
