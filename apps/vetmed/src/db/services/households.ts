import { and, eq } from 'drizzle-orm';
import type { AppDatabase } from '../database.js';
import { type Household, households, type MembershipRole, memberships } from '../schema/index.js';

/** Creates a household with `ownerId` as its owner, in one transaction (one slot). */
export function createHousehold(
  db: AppDatabase,
  input: { name: string; ownerId: string },
): Promise<Household> {
  return db.transaction(async (tx) => {
    const [household] = await tx.insert(households).values({ name: input.name.trim() }).returning();
    await tx.insert(memberships).values({ householdId: household!.id, userId: input.ownerId, role: 'owner' });
    return household!;
  });
}

/** The households a user belongs to, with the user's role in each. One read. */
export function listHouseholdsOfUser(
  db: AppDatabase,
  userId: string,
): Promise<Array<Household & { role: MembershipRole }>> {
  return db
    .select({
      id: households.id,
      name: households.name,
      createdAt: households.createdAt,
      updatedAt: households.updatedAt,
      role: memberships.role,
    })
    .from(memberships)
    .innerJoin(households, eq(households.id, memberships.householdId))
    .where(eq(memberships.userId, userId))
    .orderBy(households.name);
}

/** The user's role in the household, or undefined when not a member (for authorisation checks). */
export async function getMembershipRole(
  db: AppDatabase,
  userId: string,
  householdId: string,
): Promise<MembershipRole | undefined> {
  const [row] = await db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.userId, userId), eq(memberships.householdId, householdId)))
    .limit(1);
  return row?.role;
}
