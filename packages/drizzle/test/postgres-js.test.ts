import { createSafeguards, type Safeguards } from '@db-safeguards/core';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { sql } from 'drizzle-orm';
import type { Sql } from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isUnsupportedDriverError } from '../src/index.js';
import { drizzle, safeguardClient } from '../src/postgres-js/index.js';
import { postgresJsLines } from './support/postgres-js-lines.js';

// What is particular to postgres.js; the behaviour every driver shares is in postgres-js.contract.test.ts.

let server: TestPostgres;

beforeAll(async () => {
  server = await startTestPostgres();
});

afterAll(async () => {
  await server?.stop();
});

describe.each(postgresJsLines)('$name', (line) => {
  let client: Sql;
  let safeguards: Safeguards;
  const open = (options: Record<string, unknown> = {}) => {
    safeguards = createSafeguards({ queue: { maxConcurrentConnections: 4, reservedForCritical: 0 } });
    client = line.open(server.appUrl, { max: 4, ...options });
    return drizzle({ client, safeguards });
  };

  afterEach(async () => {
    await client?.end({ timeout: 1 });
    await safeguards?.close();
  });

  it('parses arrays on connections opened after the first (3.4 stops refetching the array types)', async () => {
    const db = open();
    const results = await Promise.all(
      Array.from({ length: 4 }, () => db.execute(sql`select array[1, 2]::int[] as xs, pg_sleep(0.05)`)),
    );
    for (const rows of results) expect((rows as unknown as Array<{ xs: unknown }>)[0]?.xs).toEqual([1, 2]);
  });

  it('keeps a statement_timeout the client set itself', async () => {
    const db = open({ connection: { statement_timeout: 1234 } });
    const rows = (await db.execute(sql`show statement_timeout`)) as unknown as Array<{
      statement_timeout: string;
    }>;
    expect(rows[0]?.statement_timeout).toBe('1234ms');
  });

  it('behind a pooler: no startup parameter, SET LOCAL statement_timeout in each transaction', async () => {
    safeguards = createSafeguards({ queue: { maxConcurrentConnections: 4, reservedForCritical: 0 } });
    client = line.open(server.appUrl, { max: 4 });
    const db = drizzle({
      client,
      safeguards,
      statementTimeoutMs: false,
      transactionStatementTimeoutMs: 1234,
    });
    const show = async (runner: { execute: typeof db.execute }) =>
      (
        (await runner.execute(sql`show statement_timeout`)) as unknown as Array<{ statement_timeout: string }>
      )[0]?.statement_timeout;
    expect(await show(db)).toBe('0');
    expect(await db.transaction((tx) => show(tx))).toBe('1234ms');
    // …or less, when the deadline is nearer.
    const nearer = await safeguards.withContext({ timeoutMs: 800 }, () => db.transaction((tx) => show(tx)));
    expect(Number.parseInt(nearer ?? '', 10)).toBeLessThanOrEqual(800);
  });

  it('runs a tagged query made on the safeguarded client itself, and a cursor', async () => {
    open();
    const guarded = safeguardClient(client, safeguards);
    expect(await guarded`select 1 as one`).toEqual([{ one: 1 }]);
    const seen: number[] = [];
    await guarded`select generate_series(1, 3) as n`.forEach((row) => {
      seen.push(row.n as number);
    });
    expect(seen).toEqual([1, 2, 3]);
    expect(safeguards.queue.active).toBe(0);
  });

  it('reruns a read whose backend was killed on a fresh copy of the spent query', async () => {
    safeguards = createSafeguards({
      queue: { maxConcurrentConnections: 4, reservedForCritical: 0 },
      retry: { baseDelayMs: 20, maxAttempts: 3 },
    });
    client = line.open(server.appUrl, { max: 4 });
    const db = drizzle({ client, safeguards });
    const retries: string[] = [];
    safeguards.onRetry((event) => retries.push(event.error.sqlState ?? event.error.reason));
    const admin = line.open(server.adminUrl, { max: 1 });
    try {
      // drizzle's queries are lazy: then() starts it now.
      const pending = db
        .execute(sql`select pg_sleep(0.5), 42 as answer, 'retry-probe' as tag`)
        .then((rows) => rows as unknown as Array<{ answer: number }>);
      let killed = 0;
      for (let i = 0; i < 100 && killed === 0; i++) {
        const rows = await admin`select pg_terminate_backend(pid) as done from pg_stat_activity
          where query like '%retry-probe%' and state = 'active' and pid <> pg_backend_pid()`;
        killed = rows.length;
        if (killed === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(killed).toBe(1);
      expect((await pending)[0]?.answer).toBe(42);
      expect(retries).toHaveLength(1);
    } finally {
      await admin.end({ timeout: 1 });
    }
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
