import { Priority } from '@db-safeguards/core';
import { TRPCError } from '@trpc/server';
import { and, eq, inArray } from 'drizzle-orm';
import { z } from 'zod';
import { administrations, animals, regimens } from '../db/index.js';
import { can, requireHouseholdRole } from '../trpc/access.js';
import { protectedProcedure, router } from '../trpc/init.js';
import { householdInput, id, idempotencyKey, optionalText, positiveAmount, unit } from './inputs.js';

const chunkSize = 100;

export const importsRouter = router({
  /**
   * Bulk import of past doses (from a paper log or another app): BATCH priority, the `heavy` limit
   * (10 per minute). Rows are written in chunks of 100, each chunk one transaction, so an import
   * never holds a connection for long and a retried import skips the rows it already wrote (each row
   * carries its idempotency key).
   */
  administrations: protectedProcedure
    .meta({ priority: Priority.BATCH, rateLimit: 'heavy', idempotent: true })
    .input(
      householdInput.extend({
        rows: z
          .array(
            z.object({
              regimenId: id,
              idempotencyKey,
              recordedAt: z.date(),
              doseAmount: positiveAmount.optional(),
              doseUnit: unit.optional(),
              notes: optionalText(2000),
            }),
          )
          .min(1)
          .max(500),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      await requireHouseholdRole(ctx.db, ctx.user.id, input.householdId, can.care);
      const regimenIds = [...new Set(input.rows.map((row) => row.regimenId))];
      const known = await ctx.db
        .select({
          id: regimens.id,
          animalId: regimens.animalId,
          doseAmount: regimens.doseAmount,
          doseUnit: regimens.doseUnit,
        })
        .from(regimens)
        .innerJoin(animals, eq(animals.id, regimens.animalId))
        .where(and(inArray(regimens.id, regimenIds), eq(animals.householdId, input.householdId)));
      const byId = new Map(known.map((regimen) => [regimen.id, regimen]));
      const unknown = regimenIds.filter((regimenId) => !byId.has(regimenId));
      if (unknown.length > 0)
        throw new TRPCError({
          code: 'NOT_FOUND',
          message: `Unknown regimen in this household: ${unknown.slice(0, 3).join(', ')}`,
        });
      let inserted = 0;
      for (let start = 0; start < input.rows.length; start += chunkSize) {
        const chunk = input.rows.slice(start, start + chunkSize).map((row) => {
          const regimen = byId.get(row.regimenId)!;
          return {
            regimenId: row.regimenId,
            animalId: regimen.animalId,
            doseAmount: row.doseAmount ?? regimen.doseAmount,
            doseUnit: row.doseUnit ?? regimen.doseUnit,
            recordedAt: row.recordedAt,
            recordedBy: ctx.user.id,
            notes: row.notes,
            idempotencyKey: row.idempotencyKey,
          };
        });
        const written = await ctx.db.transaction((tx) =>
          tx
            .insert(administrations)
            .values(chunk)
            .onConflictDoNothing({ target: administrations.idempotencyKey })
            .returning({ id: administrations.id }),
        );
        inserted += written.length;
      }
      return { received: input.rows.length, inserted, skipped: input.rows.length - inserted };
    }),
});
