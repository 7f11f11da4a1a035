import { Priority } from '@db-safeguards/core';
import { z } from 'zod';
import { listDoses, recordDose } from '../db/index.js';
import type { DoseRecording } from '../deferred/dose-recording.js';
import { readStep } from '../deferred/read-step.js';
import { fresh } from '../degradation/stale-reads.js';
import { can, requireAnimalAccess, requireRegimenAccess } from '../trpc/access.js';
import { deferWhenUnavailable } from '../trpc/defer-when-unavailable.js';
import { authenticatedProcedure, router, safeguardsMiddleware, staleReadProcedure } from '../trpc/init.js';
import { doseReceipt } from './dose-receipt.js';
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
  record: authenticatedProcedure
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
    // With REDIS_URL: a recording the database provably did not take while unavailable is accepted
    // for later (trpc/defer-when-unavailable.ts, deferred/).
    .use(
      deferWhenUnavailable((input, userId, acceptedAt) => ({
        userId,
        regimenId: input.regimenId,
        idempotencyKey: input.idempotencyKey,
        doseAmount: input.doseAmount,
        doseUnit: input.doseUnit,
        notes: input.notes,
        recordedAt: input.recordedAt?.toISOString(),
        acceptedAt: acceptedAt.toISOString(),
      })),
    )
    .use(safeguardsMiddleware)
    .mutation(async ({ ctx, input }): Promise<DoseRecording> => {
      const regimen = await readStep(requireRegimenAccess(ctx.db, ctx.user.id, input.regimenId, can.care));
      const early = beforeRegimenStart(input.recordedAt, regimen.startsAt);
      if (early) throw early;
      const result = await recordDose(ctx.db, { ...input, recordedBy: ctx.user.id }, regimen);
      return { status: 'applied', degraded: false, ...result };
    }),

  /** The state of a dose answered `accepted-for-later` (dose-receipt.ts). */
  receipt: doseReceipt,

  /** The animal's latest doses; its last good answer, marked stale, while the database is unavailable. */
  history: staleReadProcedure
    .input(animalInput.extend({ limit: pageLimit }))
    .query(async ({ ctx, input }) => {
      await requireAnimalAccess(ctx.db, ctx.user.id, input.animalId, can.read);
      return fresh(await listDoses(ctx.db, input.animalId, input.limit));
    }),
});
