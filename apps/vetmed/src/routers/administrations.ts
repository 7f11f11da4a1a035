import { Priority } from '@db-safeguards/core';
import { z } from 'zod';
import { listDoses, recordDose } from '../db/index.js';
import { can, requireAnimalAccess, requireRegimenAccess } from '../trpc/access.js';
import { protectedProcedure, router } from '../trpc/init.js';
import {
  animalInput,
  beforeRegimenStart,
  doseTime,
  id,
  idempotencyKey,
  optionalText,
  pageLimit,
  positiveAmount,
  unit,
} from './inputs.js';

export const administrationsRouter = router({
  /**
   * Records a given dose: the app's core action, so HIGH priority and the `recording` limit (30 per
   * minute). Idempotent by key: the client picks the key once and reuses it on every retry, and a
   * retried record returns the first one (`created: false`) instead of doubling the dose. Keys are
   * per regimen: another household's keys never collide with this one's. The same key with a
   * different dose is a CONFLICT.
   */
  record: protectedProcedure
    .meta({ priority: Priority.HIGH, rateLimit: 'recording', idempotent: true })
    .input(
      z.object({
        regimenId: id,
        idempotencyKey,
        doseAmount: positiveAmount.optional(),
        doseUnit: unit.optional(),
        recordedAt: doseTime.optional(),
        notes: optionalText(2000),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const regimen = await requireRegimenAccess(ctx.db, ctx.user.id, input.regimenId, can.care);
      const early = beforeRegimenStart(input.recordedAt, regimen.startsAt);
      if (early) throw early;
      return recordDose(ctx.db, { ...input, recordedBy: ctx.user.id }, regimen);
    }),

  history: protectedProcedure
    .input(animalInput.extend({ limit: pageLimit }))
    .query(async ({ ctx, input }) => {
      await requireAnimalAccess(ctx.db, ctx.user.id, input.animalId, can.read);
      return listDoses(ctx.db, input.animalId, input.limit);
    }),
});
