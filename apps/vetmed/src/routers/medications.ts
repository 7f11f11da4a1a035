import { asc } from 'drizzle-orm';
import { z } from 'zod';
import { medicationForm, medications } from '../db/index.js';
import { can, medicationUsableBy, requireHouseholdRole } from '../trpc/access.js';
import { protectedProcedure, router } from '../trpc/init.js';
import { householdInput, name, optionalText, positiveAmount, unit } from './inputs.js';

export const medicationsRouter = router({
  /** The household's own medications and the shared catalogue. */
  list: protectedProcedure.input(householdInput).query(async ({ ctx, input }) => {
    await requireHouseholdRole(ctx.db, ctx.user.id, input.householdId, can.read);
    return ctx.db
      .select()
      .from(medications)
      .where(medicationUsableBy(input.householdId))
      .orderBy(asc(medications.name));
  }),

  create: protectedProcedure
    .input(
      householdInput.extend({
        name,
        form: z.enum(medicationForm.enumValues),
        strength: positiveAmount.optional(),
        strengthUnit: unit.optional(),
        notes: optionalText(2000),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      await requireHouseholdRole(ctx.db, ctx.user.id, input.householdId, can.prescribe);
      const [medication] = await ctx.db.insert(medications).values(input).returning();
      return medication!;
    }),
});
