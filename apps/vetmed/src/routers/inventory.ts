import { TRPCError } from '@trpc/server';
import { and, asc, eq, sql } from 'drizzle-orm';
import { inventory, medications, stockScale } from '../db/index.js';
import { fresh } from '../degradation/stale-reads.js';
import { can, requireHouseholdRole, requireUsableMedication } from '../trpc/access.js';
import { protectedProcedure, router, staleReadProcedure } from '../trpc/init.js';
import { householdInput, id, signedDecimal, unit } from './inputs.js';

export const inventoryRouter = router({
  /** The household's stock; the last good answer, marked stale, while the database is unavailable. */
  list: staleReadProcedure.input(householdInput).query(async ({ ctx, input }) => {
    await requireHouseholdRole(ctx.db, ctx.user.id, input.householdId, can.read);
    const stock = await ctx.db
      .select({
        medicationId: inventory.medicationId,
        name: medications.name,
        quantityOnHand: inventory.quantityOnHand,
        unit: inventory.unit,
        lowStockThreshold: inventory.lowStockThreshold,
        updatedAt: inventory.updatedAt,
      })
      .from(inventory)
      .innerJoin(medications, eq(medications.id, inventory.medicationId))
      .where(eq(inventory.householdId, input.householdId))
      .orderBy(asc(medications.name));
    return fresh(stock);
  }),

  /**
   * Adds (or, with a negative delta, removes) stock; never below zero. One statement. Stock is
   * counted in one unit: a delta in another unit is a CONFLICT (it would relabel the stock, 10
   * tablets becoming 10 ml), and changes nothing.
   */
  adjust: protectedProcedure
    .input(
      householdInput.extend({
        medicationId: id,
        delta: signedDecimal(stockScale, 1_000_000),
        unit,
      }),
    )
    .mutation(async ({ ctx, input }) => {
      await requireHouseholdRole(ctx.db, ctx.user.id, input.householdId, can.care);
      await requireUsableMedication(ctx.db, input.medicationId, input.householdId);
      const delta = String(input.delta);
      const [row] = await ctx.db
        .insert(inventory)
        .values({
          householdId: input.householdId,
          medicationId: input.medicationId,
          unit: input.unit,
          quantityOnHand: sql`greatest(${delta}::numeric, 0)`,
        })
        .onConflictDoUpdate({
          target: [inventory.householdId, inventory.medicationId],
          set: {
            quantityOnHand: sql`greatest(${inventory.quantityOnHand} + ${delta}::numeric, 0)`,
            updatedAt: new Date(),
          },
          setWhere: eq(inventory.unit, input.unit),
        })
        .returning();
      if (!row) {
        const [stock] = await ctx.db
          .select({ unit: inventory.unit })
          .from(inventory)
          .where(
            and(eq(inventory.householdId, input.householdId), eq(inventory.medicationId, input.medicationId)),
          );
        throw new TRPCError({
          code: 'CONFLICT',
          message: `This stock is counted in ${stock?.unit ?? 'another unit'}, not ${input.unit}: adjust it in ${stock?.unit ?? 'that unit'}.`,
        });
      }
      return row;
    }),
});
