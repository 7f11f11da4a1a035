import { type ErrorReason, type ErrorType, gatherPartial, Priority } from '@db-safeguards/core';
import { and, asc, eq, isNull } from 'drizzle-orm';
import { animals, households, inventory, medications, memberships, users } from '../db/index.js';
import { can, requireHouseholdRole } from '../trpc/access.js';
import { protectedProcedure } from '../trpc/init.js';
import { adherenceSummary } from './adherence-summary.js';
import { householdInput } from './inputs.js';

/** Days the overview's adherence summary looks back. */
export const overviewAdherenceDays = 7;
/**
 * Longest the adherence summary may take: it is the page's extra, so it gives up well before the
 * call's own deadline and the rest of the page is answered without it.
 */
export const overviewAdherenceTimeoutMs = 2000;

/** Why one part of the overview is missing, in words the page can show. */
export interface MissingPart {
  type: ErrorType;
  reason: ErrorReason;
  message: string;
}

/**
 * The household page in one call: the household and its members, its animals, its stock (low ones
 * flagged) and a 7-day adherence summary. The parts load independently (the core's `gatherPartial`):
 * a part that fails leaves the others on the page, named in `missing` with why in `unavailable`. The
 * summary is a report, so it runs at LOW priority with a short deadline of its own: under load it is
 * shed first (QUEUE_FULL) and the caregiver still sees the animals and the stock.
 */
export const householdOverview = protectedProcedure.input(householdInput).query(async ({ ctx, input }) => {
  const role = await requireHouseholdRole(ctx.db, ctx.user.id, input.householdId, can.read);
  const { householdId } = input;
  const gathered = await gatherPartial({
    household: async () => {
      const [household] = await ctx.db.select().from(households).where(eq(households.id, householdId));
      const members = await ctx.db
        .select({ userId: users.id, name: users.name, role: memberships.role })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .where(eq(memberships.householdId, householdId))
        .orderBy(users.name);
      return { id: household!.id, name: household!.name, members };
    },
    animals: () =>
      ctx.db
        .select({ id: animals.id, name: animals.name, species: animals.species })
        .from(animals)
        .where(and(eq(animals.householdId, householdId), isNull(animals.archivedAt)))
        .orderBy(asc(animals.name)),
    stock: async () => {
      const rows = await ctx.db
        .select({
          medicationId: inventory.medicationId,
          name: medications.name,
          quantityOnHand: inventory.quantityOnHand,
          unit: inventory.unit,
          lowStockThreshold: inventory.lowStockThreshold,
        })
        .from(inventory)
        .innerJoin(medications, eq(medications.id, inventory.medicationId))
        .where(eq(inventory.householdId, householdId))
        .orderBy(asc(medications.name));
      return rows.map((row) => ({
        ...row,
        low: row.lowStockThreshold !== null && Number(row.quantityOnHand) <= Number(row.lowStockThreshold),
      }));
    },
    adherence: () =>
      ctx.safeguards.withContext(
        {
          priority: Priority.LOW,
          timeoutMs: overviewAdherenceTimeoutMs,
          label: 'households.overview:adherence',
        },
        () => adherenceSummary(ctx.db, householdId, overviewAdherenceDays),
      ),
  });
  const unavailable: Partial<Record<(typeof gathered.missing)[number], MissingPart>> = {};
  for (const part of gathered.missing) {
    const error = gathered.errors[part]!;
    unavailable[part] = { type: error.type, reason: error.reason, message: error.userMessage };
  }
  return { role, ...gathered.data, partial: gathered.partial, missing: gathered.missing, unavailable };
});
