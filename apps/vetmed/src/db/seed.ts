import { hashPassword } from './auth/password.js';
import type { AppDatabase } from './database.js';
import {
  administrations,
  animals,
  households,
  inventory,
  medications,
  memberships,
  regimens,
  users,
} from './schema/index.js';

/** Sign-in of the demo user the seed creates. A demo only: never seed a production database. */
export const demoCredentials = { email: 'demo@vetmed.test', password: 'vetmed-demo-2024' } as const;

// Fixed ids make the seed idempotent: every insert is `on conflict do nothing`, so a second run
// changes nothing (and never resets stock or doses the demo user has since recorded).
const id = (n: number) => `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`;
export const demoIds = {
  user: id(1),
  vetUser: id(2),
  household: id(10),
  animals: { biscuit: id(20), miso: id(21), pepper: id(22) },
  medications: { carprofen: id(30), methimazole: id(31), otic: id(32), gabapentin: id(33) },
  regimens: { carprofen: id(40), methimazole: id(41), otic: id(42) },
} as const;

export interface SeedResult {
  /** False when the demo user already existed (the seed had run before). */
  createdUser: boolean;
}

/**
 * Creates the demo data: a demo user (owner) and a vet, a household, three animals, global and
 * household medications, regimens, stock and a few recorded doses. Idempotent; one transaction.
 */
export async function seedDemoData(db: AppDatabase): Promise<SeedResult> {
  const [passwordHash, vetPasswordHash] = await Promise.all([
    hashPassword(demoCredentials.password),
    hashPassword(`${demoCredentials.password}-vet`),
  ]);
  const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000);
  // The regimens began a month ago: the seeded doses, and past doses imported from a paper log, are
  // dated after their regimen's start, which doses must be (a dose before it is refused).
  const startsAt = hoursAgo(30 * 24);
  return db.transaction(async (tx) => {
    const createdUsers = await tx
      .insert(users)
      .values([
        { id: demoIds.user, email: demoCredentials.email, name: 'Demo Owner', passwordHash },
        {
          id: demoIds.vetUser,
          email: 'vet@vetmed.test',
          name: 'Dr. Demo Vet',
          passwordHash: vetPasswordHash,
        },
      ])
      .onConflictDoNothing()
      .returning({ id: users.id });
    // Were either email taken by another account, its user would be skipped here and the memberships
    // insert below would fail on its foreign key, rolling the whole seed back.
    await tx
      .insert(households)
      .values({ id: demoIds.household, name: 'Demo Household' })
      .onConflictDoNothing();
    await tx
      .insert(memberships)
      .values([
        { householdId: demoIds.household, userId: demoIds.user, role: 'owner' },
        { householdId: demoIds.household, userId: demoIds.vetUser, role: 'vet' },
      ])
      .onConflictDoNothing();
    await tx
      .insert(animals)
      .values([
        {
          id: demoIds.animals.biscuit,
          householdId: demoIds.household,
          name: 'Biscuit',
          species: 'dog',
          breed: 'Labrador Retriever',
          birthDate: '2014-05-02',
          weightKg: '31.400',
        },
        {
          id: demoIds.animals.miso,
          householdId: demoIds.household,
          name: 'Miso',
          species: 'cat',
          breed: 'Domestic Shorthair',
          birthDate: '2011-09-17',
          weightKg: '4.200',
        },
        {
          id: demoIds.animals.pepper,
          householdId: demoIds.household,
          name: 'Pepper',
          species: 'rabbit',
          birthDate: '2021-03-30',
          weightKg: '1.900',
        },
      ])
      .onConflictDoNothing();
    await tx
      .insert(medications)
      .values([
        {
          id: demoIds.medications.carprofen,
          name: 'Carprofen',
          form: 'tablet',
          strength: '75',
          strengthUnit: 'mg',
        },
        {
          id: demoIds.medications.methimazole,
          name: 'Methimazole',
          form: 'tablet',
          strength: '2.5',
          strengthUnit: 'mg',
        },
        {
          id: demoIds.medications.gabapentin,
          name: 'Gabapentin',
          form: 'capsule',
          strength: '100',
          strengthUnit: 'mg',
        },
        {
          id: demoIds.medications.otic,
          householdId: demoIds.household,
          name: 'Ear cleaner (vet compounded)',
          form: 'drops',
          notes: 'Keep refrigerated',
        },
      ])
      .onConflictDoNothing();
    await tx
      .insert(regimens)
      .values([
        {
          id: demoIds.regimens.carprofen,
          startsAt,
          animalId: demoIds.animals.biscuit,
          medicationId: demoIds.medications.carprofen,
          doseAmount: '1',
          doseUnit: 'tablet',
          scheduleKind: 'times_per_day',
          timesPerDay: 2,
          instructions: 'With food, morning and evening.',
          createdBy: demoIds.vetUser,
        },
        {
          id: demoIds.regimens.methimazole,
          startsAt,
          animalId: demoIds.animals.miso,
          medicationId: demoIds.medications.methimazole,
          doseAmount: '1',
          doseUnit: 'tablet',
          scheduleKind: 'interval_hours',
          intervalHours: 12,
          createdBy: demoIds.vetUser,
        },
        {
          id: demoIds.regimens.otic,
          startsAt,
          animalId: demoIds.animals.biscuit,
          medicationId: demoIds.medications.otic,
          doseAmount: '4',
          doseUnit: 'drop',
          scheduleKind: 'cron',
          scheduleCron: '0 8 * * 1,4',
          instructions: 'Both ears, Mondays and Thursdays.',
          createdBy: demoIds.vetUser,
        },
      ])
      .onConflictDoNothing();
    await tx
      .insert(inventory)
      .values([
        {
          householdId: demoIds.household,
          medicationId: demoIds.medications.carprofen,
          quantityOnHand: '54',
          unit: 'tablet',
          lowStockThreshold: '10',
        },
        {
          householdId: demoIds.household,
          medicationId: demoIds.medications.methimazole,
          quantityOnHand: '28',
          unit: 'tablet',
          lowStockThreshold: '7',
        },
        {
          householdId: demoIds.household,
          medicationId: demoIds.medications.otic,
          quantityOnHand: '120',
          unit: 'drop',
        },
      ])
      .onConflictDoNothing();
    await tx
      .insert(administrations)
      .values([
        {
          regimenId: demoIds.regimens.carprofen,
          animalId: demoIds.animals.biscuit,
          doseAmount: '1',
          doseUnit: 'tablet',
          recordedBy: demoIds.user,
          recordedAt: hoursAgo(13),
          idempotencyKey: 'seed-dose-carprofen-1',
        },
        {
          regimenId: demoIds.regimens.carprofen,
          animalId: demoIds.animals.biscuit,
          doseAmount: '1',
          doseUnit: 'tablet',
          recordedBy: demoIds.user,
          recordedAt: hoursAgo(1),
          notes: 'Ate all his breakfast.',
          idempotencyKey: 'seed-dose-carprofen-2',
        },
        {
          regimenId: demoIds.regimens.methimazole,
          animalId: demoIds.animals.miso,
          doseAmount: '1',
          doseUnit: 'tablet',
          recordedBy: demoIds.user,
          recordedAt: hoursAgo(3),
          idempotencyKey: 'seed-dose-methimazole-1',
        },
      ])
      .onConflictDoNothing();
    return { createdUser: createdUsers.some((row) => row.id === demoIds.user) };
  });
}
