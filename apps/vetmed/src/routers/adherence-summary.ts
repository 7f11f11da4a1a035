import { and, eq, gte, sql } from 'drizzle-orm';
import { type AppDatabase, administrations, animals, medications, regimens } from '../db/index.js';

/**
 * Per active regimen of the household over the last `days`: the doses its schedule expected and the
 * doses recorded. One read. Used by `reports.adherence` and the household overview's summary.
 */
export async function adherenceSummary(db: AppDatabase, householdId: string, days: number) {
  const since = new Date(Date.now() - days * 24 * 3600 * 1000);
  const rows = await db
    .select({
      regimenId: regimens.id,
      animal: animals.name,
      medication: medications.name,
      scheduleKind: regimens.scheduleKind,
      timesPerDay: regimens.timesPerDay,
      intervalHours: regimens.intervalHours,
      recorded: sql<number>`count(${administrations.id})::int`,
    })
    .from(regimens)
    .innerJoin(animals, eq(animals.id, regimens.animalId))
    .innerJoin(medications, eq(medications.id, regimens.medicationId))
    .leftJoin(
      administrations,
      and(eq(administrations.regimenId, regimens.id), gte(administrations.recordedAt, since)),
    )
    .where(and(eq(animals.householdId, householdId), eq(regimens.active, true)))
    .groupBy(regimens.id, animals.name, medications.name)
    .orderBy(animals.name, medications.name);
  return rows.map((row) => {
    const expected =
      row.scheduleKind === 'times_per_day' && row.timesPerDay
        ? row.timesPerDay * days
        : row.scheduleKind === 'interval_hours' && row.intervalHours
          ? Math.floor((days * 24) / row.intervalHours)
          : null;
    return { ...row, expected, adherence: expected ? Math.min(1, row.recorded / expected) : null };
  });
}
