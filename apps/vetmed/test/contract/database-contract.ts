import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createSafeguards, isSafeguardError, type Safeguards } from '@db-safeguards/core';
import { count, eq, sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  administrations,
  animals,
  type Database,
  households,
  inventory,
  isMigrationOrderError,
  isTransactionMisuseError,
  medications,
  recordDose,
  regimens,
  TransactionMisuseError,
  users,
} from '../../src/db/index.js';
import { rowsOf } from '../../src/db/safeguarded/common-queries.js';
import { watchConnectionRefusals } from '../support/connection-refusals.js';

/** How many migrations drizzle-kit generated and the repository commits (drizzle/meta/_journal.json). */
function committedMigrations(): number {
  const journal = fileURLToPath(new URL('../../drizzle/meta/_journal.json', import.meta.url));
  return (JSON.parse(readFileSync(journal, 'utf8')) as { entries: unknown[] }).entries.length;
}

/** What a test file provides: how to open a database on its shared server (or PGlite instance). */
export interface ContractTarget {
  /** Opens a database bound to `safeguards`; the suite closes it. */
  open(safeguards: Safeguards): Promise<Database>;
  /** Present for a real server: what the suite checks from the server's side. */
  server?: {
    /** Statements of the app role that are running now and whose text contains `fragment`. */
    countActiveStatements(fragment: string): Promise<number>;
    /** Starts sampling the app role's backends (`pg_stat_activity`). */
    sampleConnections(): { stop(): Promise<{ peak: number }> };
    /** Resolves once the app role has at most `count` backends. */
    waitForConnections(count: number): Promise<void>;
    /** The role's CONNECTION LIMIT. */
    connectionLimit: number;
    /** Opens `count` backends of the app role from another client; the function closes them. */
    holdConnections(count: number): Promise<() => Promise<void>>;
  };
}

const budget = 8;

/** Polls `check` every 20 ms until it holds or `timeoutMs` passes; resolves whether it held. */
async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await sleep(20);
  }
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let node = error; node !== undefined && node !== null && chain.length < 10; ) {
    chain.push(node);
    node = (node as { cause?: unknown }).cause;
  }
  return chain;
}

export interface ContractOptions {
  /**
   * A real server: also check that a deadline cancels the running statement and that the backends
   * stay within the budget. (PGlite runs statements on the event loop's thread: `pg_sleep` blocks it.)
   */
  realServer: boolean;
}

/**
 * The behaviour every driver must show, written once. `getTarget` is called after the file's
 * `beforeAll` hooks have run (the server is up).
 */
export function describeDatabaseContract(
  name: string,
  getTarget: () => ContractTarget,
  options: ContractOptions,
): void {
  describe(`database contract: ${name}`, () => {
    let safeguards: Safeguards;
    let database: Database;
    let runs: number;
    let migrationMs: number;

    const open = async (options: Parameters<typeof createSafeguards>[0] = {}) => {
      safeguards = createSafeguards({
        ...options,
        queue: { maxConcurrentConnections: budget, ...options.queue },
      });
      safeguards.onOperationEnd(() => {
        runs++;
      });
      runs = 0;
      database = await getTarget().open(safeguards);
      return database;
    };

    /** A household with one animal, a regimen and its medication, made outside the counted part. */
    const fixture = async (db: Database['db']) => {
      const [household] = await db
        .insert(households)
        .values({ name: `h-${randomUUID()}` })
        .returning();
      const [animal] = await db
        .insert(animals)
        .values({ householdId: household!.id, name: 'Biscuit', species: 'dog' })
        .returning();
      const [medication] = await db
        .insert(medications)
        .values({ householdId: household!.id, name: `m-${randomUUID()}`, form: 'tablet' })
        .returning();
      const [regimen] = await db
        .insert(regimens)
        .values({
          animalId: animal!.id,
          medicationId: medication!.id,
          doseAmount: '1',
          doseUnit: 'tablet',
          scheduleKind: 'times_per_day',
          timesPerDay: 2,
        })
        .returning();
      return { household: household!, animal: animal!, regimen: regimen! };
    };
    /** A fixture with a user who records its doses and `quantity` tablets in stock; reads the stock back. */
    const fixtureWithStock = async (db: Database['db'], quantity: string) => {
      const world = await fixture(db);
      const [user] = await db
        .insert(users)
        .values({ email: `u-${randomUUID()}@example.test`, name: 'U', passwordHash: 'not-a-real-hash' })
        .returning();
      await db.insert(inventory).values({
        householdId: world.household.id,
        medicationId: world.regimen.medicationId,
        unit: 'tablet',
        quantityOnHand: quantity,
      });
      const stock = async () => {
        const [row] = await db
          .select({ quantity: inventory.quantityOnHand })
          .from(inventory)
          .where(eq(inventory.householdId, world.household.id));
        return row?.quantity;
      };
      return { ...world, user: user!, stock };
    };

    beforeAll(async () => {
      const first = await open();
      const started = Date.now();
      await first.migrate();
      migrationMs = Date.now() - started;
      await first.close();
      await safeguards.close();
    });

    afterEach(async () => {
      await database?.close();
      await safeguards?.close({ drainTimeoutMs: 2000 });
    });

    afterAll(async () => {
      await getTarget().server?.waitForConnections(0);
    });

    it('applies the migrations, once (migrate() again is a no-op)', async () => {
      const { db } = await open();
      // Migrations come first: this database has not served a query yet, the suite's beforeAll
      // already migrated, so this run must apply nothing.
      await database.migrate();
      const tables = await db.execute(
        sql`select table_name from information_schema.tables where table_schema = 'public' order by 1`,
      );
      const names = rowsOf<{ table_name: string }>(tables).map((row) => row.table_name);
      expect(names).toEqual([
        'administrations',
        'animals',
        'auth_tokens',
        'household_invitations',
        'households',
        'inventory',
        'medications',
        'memberships',
        'regimens',
        'users',
      ]);
      const applied = sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
      expect(rowsOf<{ n: number }>(await db.execute(applied))).toEqual([{ n: committedMigrations() }]);
      expect(migrationMs).toBeLessThan(20_000);
    });

    it('refuses migrate() once the database has served a query, opening no connection', async () => {
      const { db } = await open();
      await db.execute(sql`select 1`);
      const backends = await database.countConnections?.();
      const error = await rejectionOf(database.migrate());
      expect(isMigrationOrderError(error)).toBe(true);
      expect((error as Error).message).toMatch(/at start, before serving/);
      // The reason given is true for the driver: only the servers' drivers open a connection for it.
      expect((error as Error).message).toMatch(
        database.driver === 'pglite'
          ? /half-migrated schema.*refused on every driver/
          : /half-migrated schema.*connection of its own, which on top of a warm pool could exceed/,
      );
      expect(error).toMatchObject({ driver: database.driver });
      if (backends !== undefined) expect(await database.countConnections?.()).toBe(backends);
      expect(safeguards.queue.stats().active).toBe(0);
    });

    it('runs a select, an insert and a relational query as exactly one run each', async () => {
      const { db } = await open();
      const { household } = await fixture(db);
      runs = 0;
      const [inserted] = await db
        .insert(animals)
        .values({ householdId: household.id, name: 'Miso', species: 'cat' })
        .returning();
      expect(runs).toBe(1);
      runs = 0;
      const rows = await db.select().from(animals).where(eq(animals.householdId, household.id));
      expect(runs).toBe(1);
      expect(rows.map((row) => row.name).sort()).toEqual(['Biscuit', 'Miso']);
      runs = 0;
      const found = await db.query.households.findFirst({
        where: eq(households.id, household.id),
        with: { animals: { with: { regimens: true } } },
      });
      expect(runs).toBe(1);
      expect(found?.animals.map((animal) => animal.id)).toContain(inserted!.id);
      expect(found?.animals.find((animal) => animal.name === 'Biscuit')?.regimens).toHaveLength(1);
      expect(safeguards.queue.stats().active).toBe(0);
    });

    it('runs a transaction of three queries as one run holding one slot', async () => {
      const { db } = await open();
      const result = await db.transaction(async (tx) => {
        expect(safeguards.currentScope()).toBeDefined();
        const [household] = await tx
          .insert(households)
          .values({ name: `tx-${randomUUID()}` })
          .returning();
        await tx.insert(animals).values({ householdId: household!.id, name: 'Pepper', species: 'rabbit' });
        const [{ n }] = (await tx
          .select({ n: count() })
          .from(animals)
          .where(eq(animals.householdId, household!.id))) as [{ n: number }];
        return n;
      });
      expect(result).toBe(1);
      expect(runs).toBe(1);
      expect(safeguards.queue.stats().peakActive).toBe(1);
      expect(safeguards.queue.stats().active).toBe(0);
    });

    it('reports a duplicate idempotency key of a regimen as CONFLICT (cause 23505); ON CONFLICT DO NOTHING keeps one row', async () => {
      const { db } = await open();
      const { animal, regimen } = await fixture(db);
      const idempotencyKey = `dose-${randomUUID()}`;
      const dose = {
        regimenId: regimen.id,
        animalId: animal.id,
        doseAmount: '1',
        doseUnit: 'tablet',
        idempotencyKey,
      };
      await db.insert(administrations).values(dose);

      const error = await rejectionOf(db.insert(administrations).values(dose));
      expect(isSafeguardError(error)).toBe(true);
      expect(error).toMatchObject({ type: 'CONFLICT', sqlState: '23505', retryable: false });
      expect(causeChain(error).some((node) => (node as { code?: unknown }).code === '23505')).toBe(true);
      expect((error as Error).message).not.toMatch(/insert into/i); // no SQL for a client to see

      const again = await db
        .insert(administrations)
        .values(dose)
        .onConflictDoNothing({ target: [administrations.regimenId, administrations.idempotencyKey] })
        .returning();
      expect(again).toEqual([]);
      const rows = await db
        .select({ n: count() })
        .from(administrations)
        .where(eq(administrations.idempotencyKey, idempotencyKey));
      expect(rows[0]?.n).toBe(1);

      // The key is unique per regimen: another household's regimen may use it too.
      const other = await fixture(db);
      await db
        .insert(administrations)
        .values({ ...dose, regimenId: other.regimen.id, animalId: other.animal.id });
      const both = await db
        .select({ n: count() })
        .from(administrations)
        .where(eq(administrations.idempotencyKey, idempotencyKey));
      expect(both[0]?.n).toBe(2);
    });

    it('records concurrent retries of one dose once, drawing the stock down once', async () => {
      const { db } = await open();
      const { regimen, user, stock } = await fixtureWithStock(db, '10');
      const input = { regimenId: regimen.id, idempotencyKey: randomUUID(), recordedBy: user.id };
      // Five copies of the same request at once, each in its own transaction on its own connection.
      const results = await Promise.all(Array.from({ length: 5 }, () => recordDose(db, input)));
      expect(results.filter((result) => result.created)).toHaveLength(1);
      expect(new Set(results.map((result) => result.administration.id)).size).toBe(1);
      expect(Number(await stock())).toBe(9);
      const [stored] = await db
        .select({ n: count() })
        .from(administrations)
        .where(eq(administrations.idempotencyKey, input.idempotencyKey));
      expect(stored?.n).toBe(1);
    });

    it('draws exactly the dose from stock, however many decimals it has (stock keeps as many)', async () => {
      const { db } = await open();
      const { regimen, user, stock } = await fixtureWithStock(db, '1');
      for (let i = 0; i < 3; i++) {
        await recordDose(db, {
          regimenId: regimen.id,
          idempotencyKey: randomUUID(),
          recordedBy: user.id,
          doseAmount: '0.3333',
        });
      }
      // Three thirds of a tablet, as entered: 1 - 3 x 0.3333, not three doses rounded to 0.333.
      expect(await stock()).toBe('0.0001');
    });

    it('takes a retried dose whose amount has more decimals than the column keeps as a retry', async () => {
      const { db } = await open();
      const { regimen } = await fixture(db);
      // The column rounds 0.33335 to 0.3334 (half away from zero): the retry must match that, not 0.3333.
      const [user] = await db
        .insert(users)
        .values({ email: `u-${randomUUID()}@example.test`, name: 'U', passwordHash: 'not-a-real-hash' })
        .returning();
      const input = { regimenId: regimen.id, idempotencyKey: randomUUID(), recordedBy: user!.id };
      const first = await recordDose(db, { ...input, doseAmount: '0.33335' });
      const retried = await recordDose(db, { ...input, doseAmount: '0.33335' });
      expect([first.created, retried.created, retried.administration.id]).toEqual([
        true,
        false,
        first.administration.id,
      ]);
      expect(first.administration.doseAmount).toBe('0.3334');
      const other = await rejectionOf(recordDose(db, { ...input, doseAmount: '0.3333' }));
      expect(other).toMatchObject({ type: 'CONFLICT', reason: 'idempotency-key-reused' });
    });

    it(`completes ${budget} concurrent transactions on a budget of ${budget} (nested runs reuse the slot)`, async () => {
      const { db } = await open();
      const { household } = await fixture(db);
      const results = await Promise.all(
        Array.from({ length: budget }, (_, i) =>
          db.transaction(async (tx) => {
            await tx.insert(animals).values({ householdId: household.id, name: `a${i}`, species: 'cat' });
            // Work that calls `safeguards.run` itself, as a library might: runs on this slot.
            const rows = await safeguards.run(
              () =>
                tx
                  .select()
                  .from(animals)
                  .where(eq(animals.name, `a${i}`)),
              {
                operationType: 'read',
              },
            );
            await tx.update(animals).set({ notes: 'checked' }).where(eq(animals.id, rows[0]!.id));
            return rows.length;
          }),
        ),
      );
      expect(results).toEqual(Array(budget).fill(1));
      expect(safeguards.queue.stats().peakActive).toBeLessThanOrEqual(budget);
      expect(safeguards.queue.stats().active).toBe(0);
    });

    it('throws TransactionMisuseError when the top-level db is used inside a transaction', async () => {
      const { db } = await open();
      const inside = await rejectionOf(
        db.transaction(async () => {
          await db.select().from(households).limit(1);
        }),
      );
      expect(inside).toBeInstanceOf(TransactionMisuseError);
      expect((inside as Error).message).toMatch(/use the transaction handle/i);

      let caught: unknown;
      await db.transaction(async (tx) => {
        caught = await rejectionOf(db.transaction(async () => undefined));
        await tx.select().from(households).limit(1); // the transaction itself is unharmed
      });
      expect(isTransactionMisuseError(caught)).toBe(true);

      // Nothing is stuck: the budget is free and the top-level db works.
      expect(safeguards.queue.stats().active).toBe(0);
      await expect(db.select().from(households).limit(1)).resolves.toBeDefined();
    });

    it('answers the health probe and surfaces driver errors as SafeguardErrors', async () => {
      const db = await open();
      await expect(db.probe()).resolves.toBeUndefined();
      const error = await rejectionOf(db.db.execute(sql`select * from no_such_table`));
      expect(error).toMatchObject({ type: 'DATABASE', sqlState: '42P01' });
      expect((error as Error).message).not.toContain('no_such_table');
      if (db.countConnections) expect(await db.countConnections()).toBeGreaterThanOrEqual(1);
    });

    // Deadlines and backend counts only mean something on a real server: PGlite is one in-process
    // connection whose statements block the event loop. Those cases are not defined for it at all.
    const serverIt: typeof it = options.realServer ? it : ((() => undefined) as unknown as typeof it);

    serverIt(
      'cancels a query at its deadline: TIMEOUT within ~1 s, backend query gone, slot freed',
      async () => {
        const { db } = await open();
        const server = getTarget().server!;
        await db.execute(sql`select 1`); // connect first: the deadline is about the query
        const started = Date.now();
        // `async`: drizzle's builders are lazy and run where they are awaited. A callback returning the
        // builder itself would leave `withContext` before the query starts, and lose the deadline.
        const error = await rejectionOf(
          safeguards.withContext({ timeoutMs: 200 }, async () =>
            db.execute(sql`select pg_sleep(5) /* deadline-test */`),
          ),
        );
        const elapsed = Date.now() - started;
        expect(error).toMatchObject({ type: 'TIMEOUT' });
        expect(elapsed).toBeLessThan(1000);
        expect(
          await eventually(async () => (await server.countActiveStatements('deadline-test')) === 0, 1500),
        ).toBe(true);
        expect(await eventually(() => safeguards.queue.stats().active === 0, 1500)).toBe(true);
        await expect(db.execute(sql`select 1`)).resolves.toBeDefined(); // the connection is reusable
      },
    );

    serverIt(
      'cancels a transaction at its deadline: rolled back, backend statement gone, slot freed',
      async () => {
        const { db } = await open();
        const server = getTarget().server!;
        const name = `deadline-${randomUUID()}`;
        await db.execute(sql`select 1`);
        const started = Date.now();
        const error = await rejectionOf(
          safeguards.withContext({ timeoutMs: 300 }, async () =>
            db.transaction(async (tx) => {
              await tx.insert(households).values({ name });
              await tx.execute(sql`select pg_sleep(5) /* tx-deadline-test */`);
            }),
          ),
        );
        expect(error).toMatchObject({ type: 'TIMEOUT' });
        expect(Date.now() - started).toBeLessThan(1000);
        expect(
          await eventually(async () => (await server.countActiveStatements('tx-deadline-test')) === 0, 1500),
        ).toBe(true);
        expect(await eventually(() => safeguards.queue.stats().active === 0, 1500)).toBe(true);
        expect(await db.select().from(households).where(eq(households.name, name))).toEqual([]);
      },
    );

    serverIt(`never opens more than ${budget} backends for 30 concurrent queries`, async () => {
      const { db } = await open();
      const server = getTarget().server!;
      await server.waitForConnections(0);
      const sampler = server.sampleConnections();
      const refusals = watchConnectionRefusals(safeguards);
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => db.execute(sql`select pg_sleep(0.05), ${i}::int as i`)),
      );
      const { peak } = await sampler.stop();
      refusals.stop();
      expect(results).toHaveLength(30);
      expect(peak).toBeGreaterThan(1);
      expect(peak).toBeLessThanOrEqual(budget);
      // The role's limit is the budget, so the server never shows more than 8 backends whatever the
      // pool does: a pool opening a 9th would only meet 53300, which the safeguards retry silently.
      expect({ retried: refusals.retried, failed: refusals.failed }).toEqual({ retried: 0, failed: 0 });
      expect(safeguards.queue.stats().peakActive).toBeLessThanOrEqual(budget);
    });

    serverIt(
      'the refusal count sees what the role limit hides: 2 backends held elsewhere show up as 53300s',
      async () => {
        const { db } = await open({ retry: { baseDelayMs: 20, maxAttempts: 10 } });
        const server = getTarget().server!;
        await server.waitForConnections(0);
        const release = await server.holdConnections(2);
        const refusals = watchConnectionRefusals(safeguards);
        try {
          await Promise.allSettled(
            Array.from({ length: 30 }, (_, i) => db.execute(sql`select pg_sleep(0.05), ${i}::int as i`)),
          );
        } finally {
          refusals.stop();
          await release();
        }
        // The same load as above: only the 2 backends taken from the role differ, so the pool's 7th and
        // 8th connections are refused. The check above would fail exactly like this.
        expect(refusals.retried + refusals.failed).toBeGreaterThan(0);
      },
    );
  });
}
