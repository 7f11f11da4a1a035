import { Priority } from '@db-safeguards/core';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { listDoses, recordDose } from '../db/index.js';
import { can, requireAnimalAccess, requireRegimenAccess } from '../trpc/access.js';
import { protectedProcedure, router } from '../trpc/init.js';
import { animalInput, id, idempotencyKey, optionalText, pageLimit, positiveAmount, unit } from './inputs.js';

export const administrationsRouter = router({
  /**
   * Records a given dose: the app's core action, so HIGH priority and the `recording` limit (30 per
   * minute). Idempotent by key: the client picks the key once and reuses it on every retry, and a
   * retried record returns the first one (`created: false`) instead of doubling the dose.
   */
  record: protectedProcedure
    .meta({ priority: Priority.HIGH, rateLimit: 'recording', idempotent: true })
    .input(
      z.object({
        regimenId: id,
        idempotencyKey,
        doseAmount: positiveAmount.optional(),
        doseUnit: unit.optional(),
        recordedAt: z.date().optional(),
        notes: optionalText(2000),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const regimen = await requireRegimenAccess(ctx.db, ctx.user.id, input.regimenId, can.care);
      const result = await recordDose(ctx.db, { ...input, recordedBy: ctx.user.id }, regimen);
      if (!result.created && result.administration.regimenId !== input.regimenId) {
        // The key belongs to another dose: refuse rather than reveal it.
        throw new TRPCError({
          code: 'CONFLICT',
          message: 'This idempotency key was already used for a different dose.',
        });
      }
      return result;
    }),

  history: protectedProcedure
    .input(animalInput.extend({ limit: pageLimit }))
    .query(async ({ ctx, input }) => {
      await requireAnimalAccess(ctx.db, ctx.user.id, input.animalId, can.read);
      return listDoses(ctx.db, input.animalId, input.limit);
    }),
});
