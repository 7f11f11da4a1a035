import { SafeguardError } from '@db-safeguards/core';
import { and, desc, eq, sql } from 'drizzle-orm';
import type {} from '../../app-error-reasons.js';
import type { AppDatabase } from '../database.js';
import {
  type Administration,
  administrations,
  animals,
  doseAmountScale,
  inventory,
  type Regimen,
  regimens,
} from '../schema/index.js';

export interface RecordDoseInput {
  regimenId: string;
  /** Chosen by the client once per dose and reused on every retry (8–200 characters, e.g. a UUID). */
  idempotencyKey: string;
  recordedBy: string;
  /** Default: the regimen's dose. */
  doseAmount?: string;
  doseUnit?: string;
  /** When it was given. Default: now. */
  recordedAt?: Date;
  notes?: string;
}

/** The regimen fields `recordDose` needs, with its animal's household. */
export type DoseRegimen = Pick<
  Regimen,
  'id' | 'animalId' | 'medicationId' | 'doseAmount' | 'doseUnit' | 'active' | 'endsAt'
> & {
  householdId: string;
};

export interface RecordDoseResult {
  administration: Administration;
  /** False when this idempotency key was already recorded: nothing was added or drawn from stock. */
  created: boolean;
}

/**
 * Records a dose exactly once per idempotency key of its regimen. The recording is one statement,
 * atomic on its own: insert with `ON CONFLICT (regimen_id, idempotency_key) DO NOTHING` and, only when
 * the row is new, draw the household's stock of the medication down by the dose (only when the stock
 * is counted in the dose's unit; never below 0). A retried request returns the first recording with
 * `created: false`. The same key with a different dose (amount, unit, notes, or a `recordedAt` that
 * differs) is not a retry: it rejects with a SafeguardError of type CONFLICT, reason
 * `idempotency-key-reused`, and changes nothing. A regimen that is inactive, or ended by the time of
 * the dose, takes no new dose: CONFLICT, reason `regimen-inactive` or `regimen-ended` (a retry of a
 * dose recorded before still gets its first recording). An unknown regimen rejects with NOT_FOUND,
 * reason `regimen-not-found`.
 *
 * Why one statement and not a transaction (BEGIN, INSERT, UPDATE, COMMIT): a dose is urgent work, and
 * under load every round trip waits for a turn of a busy event loop and holds a connection meanwhile.
 * One round trip holds the connection a quarter as long and gives the same atomicity.
 *
 * `regimen`: the regimen row when the caller has just read it (the router's access check), so it is
 * not read again. Ignored unless its `id` is `input.regimenId`.
 */
export async function recordDose(
  db: AppDatabase,
  input: RecordDoseInput,
  regimen?: DoseRegimen,
): Promise<RecordDoseResult> {
  const known = regimen?.id === input.regimenId ? regimen : await readRegimen(db, input.regimenId);
  const doseAmount = input.doseAmount ?? known.doseAmount;
  const doseUnit = input.doseUnit ?? known.doseUnit;
  const dose = { doseAmount, doseUnit, notes: input.notes, recordedAt: input.recordedAt };
  const closed = closedReason(known, input.recordedAt ?? new Date());
  if (closed) {
    const existing = await findDose(db, known.id, input.idempotencyKey);
    if (existing && isSameDose(existing, dose)) return { administration: existing, created: false };
    throw regimenClosed(closed);
  }

  const recorded = db.$with('recorded').as(
    db
      .insert(administrations)
      .values({
        regimenId: known.id,
        animalId: known.animalId,
        doseAmount,
        doseUnit,
        recordedBy: input.recordedBy,
        recordedAt: input.recordedAt,
        notes: input.notes,
        idempotencyKey: input.idempotencyKey,
      })
      .onConflictDoNothing({ target: [administrations.regimenId, administrations.idempotencyKey] })
      .returning(),
  );
  // A data-modifying CTE runs whether or not the outer query reads it; it draws stock only when
  // `recorded` holds the new row, that is, never for a retry.
  const drawn = db.$with('drawn').as(
    db
      .update(inventory)
      .set({ quantityOnHand: sql`greatest(${inventory.quantityOnHand} - ${doseAmount}::numeric, 0)` })
      .where(
        and(
          eq(inventory.householdId, known.householdId),
          eq(inventory.medicationId, known.medicationId),
          eq(inventory.unit, doseUnit),
          sql`exists (select 1 from ${recorded})`,
        ),
      )
      .returning({ householdId: inventory.householdId }),
  );
  const [inserted] = await db.with(recorded, drawn).select().from(recorded);
  if (inserted) return { administration: inserted, created: true };
  // The key was taken: by this dose's earlier attempt (a retry), or by a different dose. This read is
  // a new statement, so it sees the row even when a concurrent attempt committed it after ours began.
  const existing = await findDose(db, known.id, input.idempotencyKey);
  if (!existing) throw new Error('recordDose: the idempotency key conflicted, yet no dose holds it');
  if (!isSameDose(existing, dose)) throw idempotencyKeyReused([input.idempotencyKey]);
  return { administration: existing, created: false };
}

/** The regimen `recordDose` doses, when the caller has not read it. NOT_FOUND when there is none. */
async function readRegimen(tx: AppDatabase, regimenId: string): Promise<DoseRegimen> {
  const [regimen] = await tx
    .select({
      id: regimens.id,
      animalId: regimens.animalId,
      medicationId: regimens.medicationId,
      householdId: animals.householdId,
      doseAmount: regimens.doseAmount,
      doseUnit: regimens.doseUnit,
      active: regimens.active,
      endsAt: regimens.endsAt,
    })
    .from(regimens)
    .innerJoin(animals, eq(animals.id, regimens.animalId))
    .where(eq(regimens.id, regimenId))
    .limit(1);
  if (!regimen) throw regimenNotFound(regimenId);
  return regimen;
}

/** What a request says about a dose; a field left out (`recordedAt`: "now") is not compared. */
export interface DoseContent {
  doseAmount: string;
  doseUnit: string;
  notes?: string | null | undefined;
  recordedAt?: Date | undefined;
}

/**
 * An amount as the `dose_amount` column keeps it, in units of its last decimal: rounded half away
 * from zero to {@link doseAmountScale} decimals, as PostgreSQL rounds a numeric. Done on the digits,
 * since a binary float cannot hold 0.33335 to round it the same way.
 */
function atColumnScale(amount: string): bigint {
  const plain = /^(\d*)(?:\.(\d*))?$/.exec(amount.trim());
  if (plain && `${plain[1]}${plain[2] ?? ''}` !== '') {
    const fraction = (plain[2] ?? '').padEnd(doseAmountScale + 1, '0').slice(0, doseAmountScale + 1);
    return (BigInt(`${plain[1]}${fraction}`) + 5n) / 10n;
  }
  // Exponent notation (`1e-3`), which PostgreSQL also reads: close enough through a float.
  const number = Number(amount);
  return Number.isFinite(number) ? BigInt(Math.round(number * 10 ** doseAmountScale)) : -1n;
}

/**
 * Whether `stored` is the dose `requested` describes, so that a request carrying its idempotency key
 * is a retry of it. Amounts compare at the column's scale: the stored one was rounded to it on insert
 * (the API refuses amounts with more decimals, but a caller of `recordDose` may send them), so a
 * retry of `0.33333` matches the `0.3333` its first attempt stored.
 */
export function isSameDose(stored: DoseContent, requested: DoseContent): boolean {
  return (
    atColumnScale(stored.doseAmount) === atColumnScale(requested.doseAmount) &&
    stored.doseUnit === requested.doseUnit &&
    (stored.notes ?? null) === (requested.notes ?? null) &&
    (requested.recordedAt === undefined || stored.recordedAt?.getTime() === requested.recordedAt.getTime())
  );
}

/** The keys were already used, in their regimens, for different doses: CONFLICT, nothing written. */
export function idempotencyKeyReused(keys: readonly string[]): SafeguardError {
  const shown = keys.slice(0, 3).join(', ');
  return new SafeguardError({
    type: 'CONFLICT',
    reason: 'idempotency-key-reused',
    userMessage:
      keys.length === 1
        ? `The idempotency key ${shown} was already used for a different dose of this schedule.`
        : `${keys.length} idempotency keys were already used for different doses of their schedules: ${shown}${keys.length > 3 ? ', ...' : ''}.`,
    suggestedActions: ['Use a new idempotency key for a new dose; reuse a key only to retry the same dose.'],
    notApplied: true,
  });
}

/** The dose recorded under `idempotencyKey` for the regimen, if any. */
async function findDose(
  tx: AppDatabase,
  regimenId: string,
  idempotencyKey: string,
): Promise<Administration | undefined> {
  const [dose] = await tx
    .select()
    .from(administrations)
    .where(and(eq(administrations.regimenId, regimenId), eq(administrations.idempotencyKey, idempotencyKey)));
  return dose;
}

/** Why the regimen takes no dose given at `at`, or undefined when it does. */
function closedReason(
  regimen: Pick<DoseRegimen, 'active' | 'endsAt'>,
  at: Date,
): 'inactive' | 'ended' | undefined {
  if (!regimen.active) return 'inactive';
  if (regimen.endsAt !== null && regimen.endsAt <= at) return 'ended';
  return undefined;
}

/** A dose for a regimen that is paused or over: CONFLICT, nothing written. */
function regimenClosed(reason: 'inactive' | 'ended'): SafeguardError {
  return new SafeguardError({
    type: 'CONFLICT',
    reason: `regimen-${reason}`,
    userMessage:
      reason === 'inactive'
        ? 'This medication schedule is paused: no dose can be recorded on it.'
        : 'This medication schedule had ended by the time of this dose.',
    suggestedActions: ['Check the schedule with the vet, or reactivate it first.'],
    notApplied: true,
  });
}

/** The most recent doses of an animal, newest first. One read. */
export function listDoses(db: AppDatabase, animalId: string, limit = 50): Promise<Administration[]> {
  return db
    .select()
    .from(administrations)
    .where(eq(administrations.animalId, animalId))
    .orderBy(desc(administrations.recordedAt))
    .limit(limit);
}

/** `recordDose` for a regimen that does not exist: NOT_FOUND (the core keeps a SafeguardError as it is). */
function regimenNotFound(regimenId: string): SafeguardError {
  return new SafeguardError({
    type: 'NOT_FOUND',
    reason: 'regimen-not-found',
    userMessage: 'That medication schedule does not exist.',
    internalMessage: `regimen ${regimenId} does not exist`,
    notApplied: true,
  });
}
