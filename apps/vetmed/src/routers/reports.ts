import { Priority } from '@db-safeguards/core';
import { desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { administrations, animals, medications, regimens } from '../db/index.js';
import { can, requireHouseholdRole } from '../trpc/access.js';
import { protectedProcedure, router } from '../trpc/init.js';
import { adherenceSummary } from './adherence-summary.js';
import { csvCell } from './csv-cell.js';
import { householdInput } from './inputs.js';

/** Reports are background work: LOW priority (shed first under load) and the `reports` limit (5 per minute). */
const reportProcedure = protectedProcedure.meta({ priority: Priority.LOW, rateLimit: 'reports' });

export const reportsRouter = router({
  /** Per active regimen over the last `days`: doses expected from its schedule and doses recorded. */
  adherence: reportProcedure
    .input(householdInput.extend({ days: z.number().int().min(1).max(90).default(7) }))
    .query(async ({ ctx, input }) => {
      await requireHouseholdRole(ctx.db, ctx.user.id, input.householdId, can.read);
      return adherenceSummary(ctx.db, input.householdId, input.days);
    }),

  /** Every recorded dose of the household (newest first, at most 10 000), as JSON rows or CSV text. */
  export: reportProcedure
    .input(householdInput.extend({ format: z.enum(['json', 'csv']).default('json') }))
    .query(async ({ ctx, input }) => {
      await requireHouseholdRole(ctx.db, ctx.user.id, input.householdId, can.read);
      const rows = await ctx.db
        .select({
          recordedAt: administrations.recordedAt,
          animal: animals.name,
          medication: medications.name,
          doseAmount: administrations.doseAmount,
          doseUnit: administrations.doseUnit,
          notes: administrations.notes,
          idempotencyKey: administrations.idempotencyKey,
        })
        .from(administrations)
        .innerJoin(animals, eq(animals.id, administrations.animalId))
        .innerJoin(regimens, eq(regimens.id, administrations.regimenId))
        .innerJoin(medications, eq(medications.id, regimens.medicationId))
        .where(eq(animals.householdId, input.householdId))
        .orderBy(desc(administrations.recordedAt))
        .limit(10_000);
      if (input.format === 'json') return { format: 'json' as const, rows };
      const header = 'recorded_at,animal,medication,dose_amount,dose_unit,notes,idempotency_key';
      const lines = rows.map((row) =>
        [
          row.recordedAt,
          row.animal,
          row.medication,
          row.doseAmount,
          row.doseUnit,
          row.notes,
          row.idempotencyKey,
        ]
          .map(csvCell)
          .join(','),
      );
      return { format: 'csv' as const, csv: [header, ...lines].join('\n') };
    }),
});
