import { TRPCError } from '@trpc/server';
import { and, asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { regimens } from '../db/index.js';
import { fresh } from '../degradation/stale-reads.js';
import { can, requireAnimalAccess, requireRegimenAccess, requireUsableMedication } from '../trpc/access.js';
import { protectedProcedure, router, staleReadProcedure } from '../trpc/init.js';
import { animalInput, id, optionalText, positiveAmount, unit } from './inputs.js';

/** How often a dose is due. */
const schedule = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('times_per_day'), timesPerDay: z.number().int().min(1).max(24) }),
  z.object({
    kind: z.literal('interval_hours'),
    intervalHours: z
      .number()
      .int()
      .min(1)
      .max(24 * 30),
  }),
  z.object({ kind: z.literal('cron'), cron: z.string().trim().min(9).max(100) }),
  z.object({ kind: z.literal('as_needed') }),
]);

export const regimensRouter = router({
  /** The animal's regimens; the last good answer, marked stale, while the database is unavailable. */
  list: staleReadProcedure
    .input(animalInput.extend({ activeOnly: z.boolean().default(false) }))
    .query(async ({ ctx, input }) => {
      await requireAnimalAccess(ctx.db, ctx.user.id, input.animalId, can.read);
      const list = await ctx.db.query.regimens.findMany({
        where: and(
          eq(regimens.animalId, input.animalId),
          input.activeOnly ? eq(regimens.active, true) : undefined,
        ),
        with: { medication: true },
        orderBy: [asc(regimens.startsAt)],
      });
      return fresh(list);
    }),

  create: protectedProcedure
    .input(
      animalInput.extend({
        medicationId: id,
        doseAmount: positiveAmount,
        doseUnit: unit,
        schedule,
        instructions: optionalText(2000),
        startsAt: z.date().optional(),
        endsAt: z.date().optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const animal = await requireAnimalAccess(ctx.db, ctx.user.id, input.animalId, can.prescribe);
      await requireUsableMedication(ctx.db, input.medicationId, animal.householdId);
      if (input.startsAt && input.endsAt && input.endsAt <= input.startsAt) {
        throw new TRPCError({ code: 'BAD_REQUEST', message: 'The end must come after the start.' });
      }
      const { schedule: plan } = input;
      const [regimen] = await ctx.db
        .insert(regimens)
        .values({
          animalId: input.animalId,
          medicationId: input.medicationId,
          doseAmount: input.doseAmount,
          doseUnit: input.doseUnit,
          scheduleKind: plan.kind,
          timesPerDay: plan.kind === 'times_per_day' ? plan.timesPerDay : null,
          intervalHours: plan.kind === 'interval_hours' ? plan.intervalHours : null,
          scheduleCron: plan.kind === 'cron' ? plan.cron : null,
          instructions: input.instructions,
          ...(input.startsAt ? { startsAt: input.startsAt } : {}),
          endsAt: input.endsAt,
          createdBy: ctx.user.id,
        })
        .returning();
      return regimen!;
    }),

  setActive: protectedProcedure
    .input(z.object({ regimenId: id, active: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      await requireRegimenAccess(ctx.db, ctx.user.id, input.regimenId, can.prescribe);
      const [regimen] = await ctx.db
        .update(regimens)
        .set({ active: input.active, updatedAt: new Date() })
        .where(eq(regimens.id, input.regimenId))
        .returning();
      return regimen!;
    }),
});
