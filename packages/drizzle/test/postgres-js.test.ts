import { createSafeguards, ErrorType, isSafeguardError, type Safeguards } from '@db-safeguards/core';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { sql } from 'drizzle-orm';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import type { Sql } from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isTransactionMisuseError, isUnsupportedDriverError } from '../src/index.js';
import { drizzle, safeguardClient } from '../src/postgres-js/index.js';
import { postgresJsLines } from './support/postgres-js-lines.js';

const notes = pgTable('notes', { id: integer('id').primaryKey(), body: text('body').notNull() });

let server: TestPostgres;
let admin: Sql;

beforeAll(async () => {
  server = await startTestPostgres();
  admin = postgresJsLines[1]!.open(server.adminUrl, { max: 1 });
  await admin.unsafe('create table notes (id integer primary key, body text not null)');
  await admin.unsafe('grant all on notes to public');
});

afterAll(async () => {
  await admin?.end({ timeout: 1 });
  await server?.stop();
});

/** Statements tagged `marker` still running on the server, polled for up to 2.5 s until there are none. */
async function activeStatements(marker: string): Promise<number> {
  let active = 0;
  for (let i = 0; i < 50; i++) {
    const [row] = await admin`select count(*)::int as n from pg_stat_activity
      where query like ${`%${marker}%`} and state = 'active' and pid <> pg_backend_pid()`;
    active = row?.n ?? 0;
    if (active === 0) return 0;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return active;
}

describe.each(postgresJsLines)('$name', (line) => {
  let client: Sql;
  let safeguards: Safeguards;
  const open = (options: Record<string, unknown> = {}) => {
    safeguards = createSafeguards({ queue: { maxConcurrentConnections: 4, reservedForCritical: 0 } });
    client = line.open(server.appUrl, { max: 4, ...options });
    return drizzle({ client, safeguards, schema: { notes } });
  };

  afterEach(async () => {
    await client?.end({ timeout: 1 });
    await safeguards?.close();
    await admin.unsafe('delete from notes');
  });

  it('runs reads, writes and transactions, one slot each, and sets statement_timeout', async () => {
    const db = open();
    await db.insert(notes).values({ id: 1, body: 'a' });
    const peaks: number[] = [];
    await db.transaction(async (tx) => {
      peaks.push(safeguards.queue.active);
      await tx.insert(notes).values({ id: 2, body: 'b' });
      await tx.transaction(async (nested) => {
        peaks.push(safeguards.queue.active);
        await nested.insert(notes).values({ id: 3, body: 'c' });
      });
    });
    expect(peaks).toEqual([1, 1]);
    expect((await db.select().from(notes)).map((row) => row.id).sort()).toEqual([1, 2, 3]);
    const [row] = (await db.execute(sql`show statement_timeout`)) as unknown as Array<{
      statement_timeout: string;
    }>;
    expect(row?.statement_timeout).toBe('30s');
    // Arrays still parse on connections opened after the first (3.4 stops refetching the types).
    const arrays = await Promise.all(
      Array.from({ length: 4 }, () => db.execute(sql`select array[1, 2]::int[] as xs, pg_sleep(0.05)`)),
    );
    for (const rows of arrays) expect((rows as unknown as Array<{ xs: unknown }>)[0]?.xs).toEqual([1, 2]);
    expect(safeguards.queue.active).toBe(0);
  });

  it('classifies statements: in read-only mode reads run and writes are refused before they are sent', async () => {
    const db = open();
    safeguards.readOnly.enable('test');
    await expect(db.select().from(notes)).resolves.toEqual([]);
    const error = await db
      .insert(notes)
      .values({ id: 9, body: 'x' })
      .catch((e: unknown) => e);
    expect(isSafeguardError(error)).toBe(true);
    const [count] = await admin`select count(*)::int as n from notes`;
    expect(count?.n).toBe(0);
  });

  it('rejects with a SafeguardError whose messages hold neither the SQL nor the parameters', async () => {
    const db = open();
    await db.insert(notes).values({ id: 1, body: 'secret-one' });
    const error = await db
      .insert(notes)
      .values({ id: 1, body: 'secret-two' })
      .catch((e: unknown) => e);
    expect(isSafeguardError(error)).toBe(true);
    if (!isSafeguardError(error)) return;
    expect(error.type).toBe(ErrorType.CONFLICT);
    expect(error.sqlState).toBe('23505');
    for (const message of [error.message, error.internalMessage, String(error)]) {
      expect(message).not.toMatch(/insert into|secret-two/i);
    }
  });

  it('refuses the top-level db inside its own transaction with TransactionMisuseError', async () => {
    const db = open();
    const error = await db
      .transaction(async () => {
        await db.select().from(notes);
      })
      .catch((e: unknown) => e);
    expect(isTransactionMisuseError(error)).toBe(true);
    expect(safeguards.queue.active).toBe(0);
  });

  it('cancels the running statement on the server when the deadline passes', async () => {
    const db = open();
    const started = Date.now();
    const error = await safeguards
      .withContext({ timeoutMs: 300 }, () => db.execute(sql`select pg_sleep(5), 'deadline-probe'`))
      .catch((e: unknown) => e);
    expect(isSafeguardError(error) && error.type).toBe(ErrorType.TIMEOUT);
    expect(Date.now() - started).toBeLessThan(3_000);
    // The statement is gone from the server, not just abandoned by the client.
    expect(await activeStatements('deadline-probe')).toBe(0);
    // …and the pool still serves.
    await expect(db.select().from(notes)).resolves.toEqual([]);
  });

  it('cancels a transaction statement on the server at the deadline', async () => {
    const db = open();
    const error = await safeguards
      .withContext({ timeoutMs: 300 }, () =>
        db.transaction(async (tx) => {
          await tx.execute(sql`select pg_sleep(5), 'tx-deadline-probe'`);
        }),
      )
      .catch((e: unknown) => e);
    expect(isSafeguardError(error) && error.type).toBe(ErrorType.TIMEOUT);
    expect(await activeStatements('tx-deadline-probe')).toBe(0);
    expect(safeguards.queue.active).toBe(0);
  });

  it('refuses a pool larger than the budget at creation', () => {
    expect(() => open({ max: 5 })).toThrow(/at most the connection budget \(4\)/);
  });
});

describe('an unsupported client', () => {
  it('is refused at creation with the supported range', () => {
    const safeguards = createSafeguards();
    const fake = Object.assign(() => undefined, { unsafe: () => Promise.resolve([]), begin: () => {} });
    const error = (() => {
      try {
        safeguardClient(fake as unknown as Sql, safeguards);
      } catch (e) {
        return e;
      }
    })();
    expect(isUnsupportedDriverError(error)).toBe(true);
    expect(String(error)).toContain('postgres@>=3.4.0 <5');
  });
});
