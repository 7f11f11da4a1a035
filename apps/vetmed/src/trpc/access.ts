import { TRPCError } from '@trpc/server';
import { and, eq, isNull, or } from 'drizzle-orm';
import {
  type AppDatabase,
  animals,
  getMembershipRole,
  type MembershipRole,
  medications,
  memberships,
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
  return checkRole(await getMembershipRole(db, userId, householdId), allowed, 'Household');
}

/** The caller's role, when it is one of `allowed`: NOT_FOUND without one, FORBIDDEN when another. */
function checkRole(
  role: MembershipRole | null | undefined,
  allowed: readonly MembershipRole[],
  what: string,
): MembershipRole {
  if (role === null || role === undefined) throw notFound(what);
  if (!allowed.includes(role))
    throw new TRPCError({
      code: 'FORBIDDEN',
      message: `Your role (${role}) cannot do this in this household.`,
    });
  return role;
}

/** The caller's membership of the household in the query, joined in so the check costs no round trip. */
const callerMembership = (userId: string) =>
  and(eq(memberships.householdId, animals.householdId), eq(memberships.userId, userId));

/**
 * The animal's household, after checking the caller's role in it. One query: the animal with the
 * caller's membership joined in, since each round trip holds a slot of the budget (10 ms and more on
 * a remote database).
 */
export async function requireAnimalAccess(
  db: AppDatabase,
  userId: string,
  animalId: string,
  allowed: readonly MembershipRole[],
) {
  const [row] = await db
    .select({ id: animals.id, householdId: animals.householdId, role: memberships.role })
    .from(animals)
    .leftJoin(memberships, callerMembership(userId))
    .where(eq(animals.id, animalId))
    .limit(1);
  checkRole(row?.role, allowed, 'Animal');
  return { id: row!.id, householdId: row!.householdId };
}

/**
 * The regimen (with what `recordDose` needs of it) and its animal's household, after checking the
 * caller's role in it; one query, as {@link requireAnimalAccess}.
 */
export async function requireRegimenAccess(
  db: AppDatabase,
  userId: string,
  regimenId: string,
  allowed: readonly MembershipRole[],
) {
  const [row] = await db
    .select({
      id: regimens.id,
      animalId: regimens.animalId,
      medicationId: regimens.medicationId,
      householdId: animals.householdId,
      doseAmount: regimens.doseAmount,
      doseUnit: regimens.doseUnit,
      active: regimens.active,
      startsAt: regimens.startsAt,
      endsAt: regimens.endsAt,
      role: memberships.role,
    })
    .from(regimens)
    .innerJoin(animals, eq(animals.id, regimens.animalId))
    .leftJoin(memberships, callerMembership(userId))
    .where(eq(regimens.id, regimenId))
    .limit(1);
  checkRole(row?.role, allowed, 'Regimen');
  const { role: _role, ...regimen } = row!;
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
