import { randomUUID } from 'node:crypto';
import { createSafeguards, type Safeguards } from '@db-safeguards/core';
import { PGlite } from '@electric-sql/pglite';
import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  administrations,
  animals,
  authenticate,
  createDatabase,
  createHousehold,
  createUser,
  type Database,
  demoCredentials,
  demoIds,
  getMembershipRole,
  inventory,
  listDoses,
  listHouseholdsOfUser,
  recordDose,
  revokeToken,
  seedDemoData,
  signIn,
} from '../src/db/index.js';

let pglite: PGlite;
let safeguards: Safeguards;
let database: Database;

beforeAll(async () => {
  pglite = await PGlite.create();
  safeguards = createSafeguards();
  database = await createDatabase({ config: { driver: 'pglite' }, pglite, safeguards });
  await database.migrate();
});

afterAll(async () => {
  await database?.close();
  await safeguards?.close();
  await pglite?.close();
});

describe('users and bearer tokens', () => {
  it('signs up, signs in with a token stored only as its hash, authenticates and signs out', async () => {
    const { db } = database;
    const email = `Ann.${randomUUID()}@Example.com`;
    const user = await createUser(db, { email, name: ' Ann ', password: 'hunter2hunter2' });
    expect(user).toMatchObject({ email: email.toLowerCase(), name: 'Ann' });
    expect(user).not.toHaveProperty('passwordHash');

    await expect(createUser(db, { email, name: 'Again', password: 'x' })).rejects.toMatchObject({
      type: 'CONFLICT',
      constraint: 'users_email_unique',
    });
    expect(await signIn(db, { email, password: 'wrong' })).toBeUndefined();
    expect(await signIn(db, { email: `nobody-${randomUUID()}@x.y`, password: 'x' })).toBeUndefined();

    const session = await signIn(db, { email: email.toUpperCase(), password: 'hunter2hunter2' });
    expect(session?.user.id).toBe(user.id);
    const stored = await pglite.query<{ token_hash: string }>(
      'select token_hash from auth_tokens where user_id = $1',
      [user.id],
    );
    expect(stored.rows).toHaveLength(1);
    expect(stored.rows[0]!.token_hash).not.toContain(session!.token);

    expect((await authenticate(db, session!.token))?.id).toBe(user.id);
    expect(await authenticate(db, 'not-a-token')).toBeUndefined();
    expect(await revokeToken(db, session!.token)).toBe(true);
    expect(await authenticate(db, session!.token)).toBeUndefined();

    const expired = await signIn(db, { email, password: 'hunter2hunter2', ttlMs: -1000 });
    expect(await authenticate(db, expired!.token)).toBeUndefined();
  });
});

describe('households', () => {
  it('creates a household with its owner in one transaction', async () => {
    const { db } = database;
    const owner = await createUser(db, {
      email: `o-${randomUUID()}@x.y`,
      name: 'O',
      password: 'password123',
    });
    const household = await createHousehold(db, { name: 'Home', ownerId: owner.id });
    expect(await getMembershipRole(db, owner.id, household.id)).toBe('owner');
    expect(await getMembershipRole(db, randomUUID(), household.id)).toBeUndefined();
    expect(await listHouseholdsOfUser(db, owner.id)).toEqual([
      expect.objectContaining({ id: household.id, role: 'owner' }),
    ]);
  });
});

describe('seed and dose recording', () => {
  it('seeds the demo data idempotently', async () => {
    const { db } = database;
    const first = await seedDemoData(db);
    const counts = async () =>
      Promise.all(
        [animals, administrations, inventory].map(
          async (table) => (await db.select({ n: count() }).from(table))[0]!.n,
        ),
      );
    const before = await counts();
    const second = await seedDemoData(db);
    expect([first.createdUser, second.createdUser]).toEqual([true, false]);
    expect(await counts()).toEqual(before);
    expect(await signIn(db, demoCredentials)).toBeDefined();
  });

  it('records a dose once per idempotency key and draws the stock down once', async () => {
    const { db } = database;
    const stock = async () =>
      (
        await db
          .select({ quantity: inventory.quantityOnHand })
          .from(inventory)
          .where(eq(inventory.medicationId, demoIds.medications.carprofen))
      )[0]!.quantity;
    const before = Number(await stock());
    const input = {
      regimenId: demoIds.regimens.carprofen,
      idempotencyKey: randomUUID(),
      recordedBy: demoIds.user,
    };
    const [first, retried] = await Promise.all([recordDose(db, input), recordDose(db, input)]);
    expect([first.created, retried.created].sort()).toEqual([false, true]);
    expect(retried.administration.id).toBe(first.administration.id);
    expect(Number(await stock())).toBe(before - 1);
    expect((await listDoses(db, demoIds.animals.biscuit))[0]?.id).toBe(first.administration.id);
  });

  it('refuses an unknown regimen with NOT_FOUND', async () => {
    await expect(
      recordDose(database.db, {
        regimenId: randomUUID(),
        idempotencyKey: randomUUID(),
        recordedBy: demoIds.user,
      }),
    ).rejects.toMatchObject({ type: 'NOT_FOUND', reason: 'regimen-not-found' });
  });
});
