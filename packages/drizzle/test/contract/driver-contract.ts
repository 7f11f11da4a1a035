import { createSafeguards, ErrorType, isSafeguardError, type Safeguards } from '@db-safeguards/core';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isTransactionMisuseError } from '../../src/index.js';
import type { AnyDb, DriverUnderTest, OpenDatabase } from './driver-under-test.js';
import { createNotesTable, notes } from './notes-table.js';

/**
 * Registers a test only where the driver has the capability it checks (a driver without it has no
 * such test, rather than a skipped one).
 */
const itWhen = (capable: boolean): typeof it => (capable ? it : ((() => {}) as unknown as typeof it));

/**
 * The behaviour every driver entry promises, run against the real test PostgreSQL with the app role at
 * CONNECTION LIMIT 8: one slot per statement and per transaction, nested reuse, the misuse check,
 * server-side cancel at the deadline, statement_timeout, read/write classification, typed errors without
 * SQL or parameters, and 200 concurrent mixed calls within the role's 8 connections.
 */
export function runDriverContract(driver: DriverUnderTest): void {
  describe(`${driver.name}: driver contract`, () => {
    let server: TestPostgres;
    let admin: postgres.Sql;
    let safeguards: Safeguards;
    let opened: OpenDatabase | undefined;

    beforeAll(async () => {
      server = await startTestPostgres();
      admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
      await admin.unsafe(createNotesTable).simple();
    });

    afterAll(async () => {
      await admin?.end({ timeout: 1 });
      await server?.stop();
    });

    afterEach(async () => {
      await opened?.close();
      opened = undefined;
      await safeguards?.close();
      await admin.unsafe('delete from notes');
    });

    const open = async (budget = 4): Promise<AnyDb> => {
      safeguards = createSafeguards({ queue: { maxConcurrentConnections: budget, reservedForCritical: 0 } });
      opened = await driver.open(server, safeguards, budget);
      return opened.db;
    };

    const countNotes = async (): Promise<number> => {
      if (opened?.countNotes) return opened.countNotes();
      const [row] = await admin`select count(*)::int as n from notes`;
      return row?.n ?? 0;
    };

    /** Statements tagged `marker` still running on the server, polled for up to 2.5 s until there are none. */
    const activeStatements = async (marker: string): Promise<number> => {
      let active = 0;
      for (let i = 0; i < 50; i++) {
        const [row] = await admin`select count(*)::int as n from pg_stat_activity
          where query like ${`%${marker}%`} and state = 'active' and pid <> pg_backend_pid()`;
        active = row?.n ?? 0;
        if (active === 0) return 0;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return active;
    };

    it('runs reads and writes, one slot per statement', async () => {
      const db = await open();
      await db.insert(notes).values({ id: 1, body: 'a' });
      expect(await db.select().from(notes)).toEqual([{ id: 1, body: 'a' }]);
      expect(safeguards.queue.active).toBe(0);
    });

    itWhen(driver.interactiveTransactions)(
      'holds one slot for a transaction; nested transactions reuse it',
      async () => {
        const db = await open();
        const held: number[] = [];
        await db.transaction(async (tx) => {
          held.push(safeguards.queue.active);
          await tx.insert(notes).values({ id: 2, body: 'b' });
          await tx.transaction(async (nested) => {
            held.push(safeguards.queue.active);
            await nested.insert(notes).values({ id: 3, body: 'c' });
          });
          // A nested safeguards.run inside the callback runs on the transaction's slot, at once.
          const inner = await safeguards.run(async () => {
            held.push(safeguards.queue.active);
            return (await tx.select().from(notes)).length;
          });
          expect(inner).toBe(2);
        });
        expect(held).toEqual([1, 1, 1]);
        expect((await db.select().from(notes)).map((row) => row.id).sort()).toEqual([2, 3]);
        // A failing transaction rolls back and frees its slot.
        const error = await db
          .transaction(async (tx) => {
            await tx.insert(notes).values({ id: 4, body: 'd' });
            await tx.insert(notes).values({ id: 4, body: 'd' });
          })
          .catch((e: unknown) => e);
        expect(isSafeguardError(error) && error.type).toBe(ErrorType.CONFLICT);
        expect((await db.select().from(notes)).map((row) => row.id).sort()).toEqual([2, 3]);
        expect(safeguards.queue.active).toBe(0);
      },
    );

    itWhen(driver.interactiveTransactions)(
      'refuses the top-level db inside its own transaction with TransactionMisuseError',
      async () => {
        const db = await open();
        const nested = await db
          .transaction(async () => {
            await db.transaction(async () => {});
          })
          .catch((e: unknown) => e);
        expect(isTransactionMisuseError(nested)).toBe(true);
        if (driver.catchesTopLevelQueryMisuse) {
          const query = await db
            .transaction(async () => {
              await db.select().from(notes);
            })
            .catch((e: unknown) => e);
          expect(isTransactionMisuseError(query)).toBe(true);
        }
        expect(safeguards.queue.active).toBe(0);
      },
    );

    it('classifies statements: in read-only mode reads run and writes are refused before they are sent', async () => {
      const db = await open();
      safeguards.readOnly.enable('test');
      await expect(db.select().from(notes)).resolves.toEqual([]);
      const error = await db
        .insert(notes)
        .values({ id: 9, body: 'x' })
        .catch((e: unknown) => e);
      expect(isSafeguardError(error)).toBe(true);
      expect(await countNotes()).toBe(0);
    });

    it('rejects with a SafeguardError whose messages hold neither the SQL nor the parameters', async () => {
      const db = await open();
      await db.insert(notes).values({ id: 1, body: 'secret-one' });
      const error = await db
        .insert(notes)
        .values({ id: 1, body: 'secret-two' })
        .catch((e: unknown) => e);
      expect(isSafeguardError(error)).toBe(true);
      if (!isSafeguardError(error)) return;
      expect(error.type).toBe(ErrorType.CONFLICT);
      expect(error.sqlState).toBe('23505');
      for (const message of [error.message, error.internalMessage, String(error)])
        expect(message).not.toMatch(/insert into|secret-two/i);
    });

    itWhen(driver.statementTimeout)('sets statement_timeout on its connections', async () => {
      const db = await open();
      const rows = await db.execute(sql`show statement_timeout`);
      const list = (Array.isArray(rows) ? rows : (rows as { rows: unknown[] }).rows) as Array<{
        statement_timeout: string;
      }>;
      expect(list[0]?.statement_timeout).toBe('30s');
    });

    itWhen(driver.cancelsOnServer)(
      'cancels the running statement on the server when the deadline passes',
      async () => {
        const db = await open();
        const started = Date.now();
        const error = await safeguards
          .withContext({ timeoutMs: 300 }, () => db.execute(sql`select pg_sleep(5), 'deadline-probe'`))
          .catch((e: unknown) => e);
        expect(isSafeguardError(error) && error.type).toBe(ErrorType.TIMEOUT);
        expect(Date.now() - started).toBeLessThan(3_000);
        expect(await activeStatements('deadline-probe')).toBe(0);
        await expect(db.select().from(notes)).resolves.toEqual([]);
      },
    );

    itWhen(driver.cancelsOnServer && driver.interactiveTransactions)(
      'cancels a transaction statement on the server at the deadline',
      async () => {
        const db = await open();
        const error = await safeguards
          .withContext({ timeoutMs: 300 }, () =>
            db.transaction(async (tx) => {
              await tx.execute(sql`select pg_sleep(5), 'tx-deadline-probe'`);
            }),
          )
          .catch((e: unknown) => e);
        expect(isSafeguardError(error) && error.type).toBe(ErrorType.TIMEOUT);
        expect(await activeStatements('tx-deadline-probe')).toBe(0);
        // The slot is the connection: it comes back once the driver has rolled back and released it.
        await Promise.race([safeguards.queue.onIdle(), new Promise((resolve) => setTimeout(resolve, 5_000))]);
        expect(safeguards.queue.active).toBe(0);
      },
    );

    it('serves 200 concurrent mixed calls within the role limit of 8: no slot leaked, every error typed', async () => {
      const db = await open(8);
      const sampler = driver.usesServer ? server.sampleAppConnections() : undefined;
      const outcomes: Record<string, number> = {};
      const untyped: unknown[] = [];
      const count = (what: string) => {
        outcomes[what] = (outcomes[what] ?? 0) + 1;
      };
      const call = async (i: number): Promise<void> => {
        const kind =
          i === 0 && driver.cancelsOnServer
            ? 'deadline'
            : ['read', 'read', 'read', 'write', 'write', 'tx', 'tx', 'fail', 'misuse', 'read'][i % 10]!;
        try {
          await safeguards.withContext({ timeoutMs: kind === 'deadline' ? 200 : 20_000 }, async () => {
            if (kind === 'read') await db.select().from(notes).limit(5);
            else if (kind === 'write') await db.insert(notes).values({ id: 1000 + i, body: `w${i}` });
            else if (kind === 'deadline') await db.execute(sql`select pg_sleep(3), 'mixed-deadline'`);
            else if (kind === 'fail') await db.execute(sql`select 1 / (${i} - ${i})`);
            else if (kind === 'tx' && driver.interactiveTransactions)
              await db.transaction(async (tx) => {
                await tx.insert(notes).values({ id: 2000 + i, body: `t${i}` });
                await tx.select().from(notes).limit(1);
              });
            else if (kind === 'tx') await db.insert(notes).values({ id: 2000 + i, body: `t${i}` });
            else if (kind === 'misuse' && driver.interactiveTransactions)
              await db.transaction(async () => {
                await db.transaction(async () => {});
              });
            else await db.select().from(notes).limit(1);
          });
          count(`${kind}:ok`);
        } catch (error) {
          if (isSafeguardError(error))
            count(
              `${kind}:${error.type}${process.env.CONTRACT_DEBUG ? `:${error.sqlState}:${error.internalMessage}` : ''}`,
            );
          else if (isTransactionMisuseError(error)) count(`${kind}:misuse`);
          else {
            untyped.push(error);
            count(`${kind}:untyped`);
          }
        }
      };
      await Promise.all(Array.from({ length: 200 }, (_, i) => call(i)));
      const sample = await sampler?.stop();
      console.info(`${driver.name}: 200 mixed calls, peak backends ${sample?.peak ?? 'n/a'}`, outcomes);

      expect(untyped).toEqual([]);
      // The failing statement (division by zero) fails alike every time, typed.
      const failures = Object.entries(outcomes).filter(([key]) => key.startsWith('fail:'));
      expect(failures, JSON.stringify(outcomes)).toHaveLength(1);
      expect(failures[0]?.[0]).not.toBe('fail:ok');
      expect(failures[0]?.[1]).toBe(20);
      if (driver.cancelsOnServer) expect(outcomes['deadline:TIMEOUT']).toBe(1);
      if (driver.interactiveTransactions) {
        expect(outcomes['misuse:misuse']).toBe(20);
        expect(outcomes['tx:ok'], JSON.stringify(outcomes)).toBe(40);
      }
      expect(outcomes['read:ok']).toBe(driver.cancelsOnServer ? 79 : 80); // i = 0: the deadline call
      expect(outcomes['write:ok']).toBe(40);
      if (sample) expect(sample.peak).toBeLessThanOrEqual(8);
      // A cancelled statement's slot comes back when the driver is done with its connection: shortly.
      await Promise.race([safeguards.queue.onIdle(), new Promise((resolve) => setTimeout(resolve, 5_000))]);
      expect(safeguards.queue.active).toBe(0);
      expect(safeguards.queue.queued).toBe(0);
      if (driver.cancelsOnServer) expect(await activeStatements('mixed-deadline')).toBe(0);
      expect(await countNotes()).toBe(80);
    }, 60_000);
  });
}
