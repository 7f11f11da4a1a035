import { TRPCError } from '@trpc/server';
import { and, eq, isNull, or } from 'drizzle-orm';
import {
  type AppDatabase,
  animals,
  getMembershipRole,
  type MembershipRole,
  medications,
  regimens,
} from '../db/index.js';

/** Who may do what in a household. */
export const can = {
  read: ['owner', 'caregiver', 'vet'],
  care: ['owner', 'caregiver'],
  prescribe: ['owner', 'vet'],
  administer: ['owner'],
} as const satisfies Record<string, readonly MembershipRole[]>;

// Another household's data is "not found", not "forbidden": its existence is not the caller's business.
const notFound = (what: string) => new TRPCError({ code: 'NOT_FOUND', message: `${what} not found.` });

/**
 * Checks that `userId` belongs to `householdId` with one of `allowed` roles. Every household-scoped
 * procedure calls this (or one of the helpers below) first, so no one reads or changes another
 * household's data.
 */
export async function requireHouseholdRole(
  db: AppDatabase,
  userId: string,
  householdId: string,
  allowed: readonly MembershipRole[],
): Promise<MembershipRole> {
  const role = await getMembershipRole(db, userId, householdId);
  if (role === undefined) throw notFound('Household');
  if (!allowed.includes(role))
    throw new TRPCError({
      code: 'FORBIDDEN',
      message: `Your role (${role}) cannot do this in this household.`,
    });
  return role;
}

/** The animal's household, after checking the caller's role in it. */
export async function requireAnimalAccess(
  db: AppDatabase,
  userId: string,
  animalId: string,
  allowed: readonly MembershipRole[],
) {
  const [animal] = await db
    .select({ id: animals.id, householdId: animals.householdId })
    .from(animals)
    .where(eq(animals.id, animalId))
    .limit(1);
  if (!animal) throw notFound('Animal');
  await requireHouseholdRole(db, userId, animal.householdId, allowed).catch((error: unknown) => {
    throw error instanceof TRPCError && error.code === 'NOT_FOUND' ? notFound('Animal') : error;
  });
  return animal;
}

/**
 * The regimen (with what `recordDose` needs of it) and its animal's household, after checking the
 * caller's role in it.
 */
export async function requireRegimenAccess(
  db: AppDatabase,
  userId: string,
  regimenId: string,
  allowed: readonly MembershipRole[],
) {
  const [regimen] = await db
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
    .innerJoin(animals, and(eq(animals.id, regimens.animalId)))
    .where(eq(regimens.id, regimenId))
    .limit(1);
  if (!regimen) throw notFound('Regimen');
  await requireHouseholdRole(db, userId, regimen.householdId, allowed).catch((error: unknown) => {
    throw error instanceof TRPCError && error.code === 'NOT_FOUND' ? notFound('Regimen') : error;
  });
  return regimen;
}

/** The medications a household may see and use: its own, and the shared catalogue. */
export function medicationUsableBy(householdId: string) {
  return or(eq(medications.householdId, householdId), isNull(medications.householdId));
}

/** A medication the household may use: its own, or one of the shared catalogue. NOT_FOUND otherwise. */
export async function requireUsableMedication(
  db: AppDatabase,
  medicationId: string,
  householdId: string,
): Promise<void> {
  const [medication] = await db
    .select({ id: medications.id })
    .from(medications)
    .where(and(eq(medications.id, medicationId), medicationUsableBy(householdId)));
  if (!medication) throw notFound('Medication');
}
