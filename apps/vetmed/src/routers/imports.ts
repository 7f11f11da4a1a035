import { Priority } from '@db-safeguards/core';
import { TRPCError } from '@trpc/server';
import { and, eq, inArray } from 'drizzle-orm';
import { z } from 'zod';
import {
  type AppDatabase,
  administrations,
  animals,
  idempotencyKeyReused,
  isSameDose,
  regimens,
} from '../db/index.js';
import { can, requireHouseholdRole } from '../trpc/access.js';
import { protectedProcedure, router } from '../trpc/init.js';
import {
  beforeRegimenStart,
  doseTime,
  householdInput,
  id,
  idempotencyKey,
  optionalText,
  positiveAmount,
  unit,
} from './inputs.js';

const chunkSize = 100;

interface Dose {
  regimenId: string;
  idempotencyKey: string;
  doseAmount: string;
  doseUnit: string;
  notes?: string | null | undefined;
  recordedAt: Date;
}

/** A dose's identity: its idempotency key within its regimen. */
const doseKey = (dose: { regimenId: string; idempotencyKey: string }) =>
  `${dose.regimenId} ${dose.idempotencyKey}`;

/** The stored doses among `doses` (by regimen and key), in one read. */
async function storedDoses(db: AppDatabase, doses: readonly Dose[]): Promise<Map<string, Dose>> {
  const rows = await db
    .select({
      regimenId: administrations.regimenId,
      idempotencyKey: administrations.idempotencyKey,
      doseAmount: administrations.doseAmount,
      doseUnit: administrations.doseUnit,
      notes: administrations.notes,
      recordedAt: administrations.recordedAt,
    })
    .from(administrations)
    .where(
      and(
        inArray(administrations.regimenId, [...new Set(doses.map((dose) => dose.regimenId))]),
        inArray(administrations.idempotencyKey, [...new Set(doses.map((dose) => dose.idempotencyKey))]),
      ),
    );
  const wanted = new Set(doses.map(doseKey));
  return new Map(rows.filter((row) => wanted.has(doseKey(row))).map((row) => [doseKey(row), row]));
}

export const importsRouter = router({
  /**
   * Bulk import of past doses (from a paper log or another app): BATCH priority, the `heavy` limit
   * (10 per minute). Rows are written in chunks of 100, each chunk one transaction, so an import
   * never holds a connection for long and a retried import skips the rows it already wrote (each row
   * carries its idempotency key, unique per regimen). A key already used for a different dose is a
   * CONFLICT (reason `idempotency-key-reused`), never a silent skip: found before writing, nothing is
   * written; found in a chunk (another request wrote the key meanwhile), that chunk is rolled back.
   *
   * The rows are past doses, taken as the log has them: unlike `administrations.record`, which refuses
   * a new dose on a paused or ended regimen, the import does not check that (a regimen paused or ended
   * since was running when they were given), and it draws no stock down.
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
              recordedAt: doseTime,
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
          startsAt: regimens.startsAt,
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
      for (const row of input.rows) {
        const early = beforeRegimenStart(row.recordedAt, byId.get(row.regimenId)!.startsAt);
        if (early) throw early;
      }
      const doses = input.rows.map((row) => {
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
      // A key already stored (or earlier in this import) with the same dose is a retry: skipped. With
      // another dose it is a conflict, refused before anything is written.
      const seen = await storedDoses(ctx.db, doses);
      const conflicts: string[] = [];
      for (const dose of doses) {
        const key = doseKey(dose);
        const stored = seen.get(key);
        if (stored === undefined) seen.set(key, dose);
        else if (!isSameDose(stored, dose)) conflicts.push(dose.idempotencyKey);
      }
      if (conflicts.length > 0) throw idempotencyKeyReused(conflicts);

      let inserted = 0;
      for (let start = 0; start < doses.length; start += chunkSize) {
        const chunk = doses.slice(start, start + chunkSize);
        inserted += await ctx.db.transaction(async (tx) => {
          const written = await tx
            .insert(administrations)
            .values(chunk)
            .onConflictDoNothing({ target: [administrations.regimenId, administrations.idempotencyKey] })
            .returning({
              regimenId: administrations.regimenId,
              idempotencyKey: administrations.idempotencyKey,
            });
          // Rows another request wrote since the check above: still a retry only if it is the same dose.
          const writtenKeys = new Set(written.map(doseKey));
          const skipped = chunk.filter((dose) => !writtenKeys.has(doseKey(dose)));
          if (skipped.length > 0) {
            const stored = await storedDoses(tx, skipped);
            const raced = skipped.filter((dose) => !isSameDose(stored.get(doseKey(dose)) ?? dose, dose));
            if (raced.length > 0) throw idempotencyKeyReused(raced.map((dose) => dose.idempotencyKey));
          }
          return written.length;
        });
      }
      return { received: input.rows.length, inserted, skipped: input.rows.length - inserted };
    }),
});
