import { createSafeguards, isSafeguardError, type Safeguards } from '@db-safeguards/core';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { neon, neonConfig } from '@neondatabase/serverless';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isInteractiveTransactionUnsupportedError } from '../src/index.js';
import { drizzle } from '../src/neon-http/index.js';
import { createNotesTable, notes } from './contract/notes-table.js';
import { type NeonHttpStandIn, startNeonHttpStandIn } from './support/neon-http-stand-in.js';

// What is particular to Neon's HTTP driver; the shared behaviour is in neon-http.contract.test.ts.

let server: TestPostgres;
let standIn: NeonHttpStandIn;
let admin: postgres.Sql;
let safeguards: Safeguards;

beforeAll(async () => {
  server = await startTestPostgres();
  standIn = await startNeonHttpStandIn();
  neonConfig.fetchEndpoint = () => standIn.url;
  admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(createNotesTable).simple();
});

afterAll(async () => {
  await admin?.end({ timeout: 1 });
  await standIn?.close();
  await server?.stop();
});

afterEach(async () => {
  await safeguards?.close();
  await admin.unsafe('delete from notes');
});

const open = () => {
  safeguards = createSafeguards({ queue: { maxConcurrentConnections: 4, reservedForCritical: 0 } });
  return drizzle({ client: neon(server.appUrl), safeguards, schema: { notes } });
};

describe('neon-http', () => {
  it('rejects db.transaction with a developer error that points to db.batch, and runs nothing', async () => {
    const db = open();
    let ran = false;
    const error = await db
      .transaction(async (tx) => {
        ran = true;
        await tx.insert(notes).values({ id: 1, body: 'x' });
      })
      .catch((e: unknown) => e);
    expect(isInteractiveTransactionUnsupportedError(error)).toBe(true);
    expect(String(error)).toContain('db.batch');
    expect(ran).toBe(false);
  });

  it('runs db.batch as one transaction holding one slot: all or nothing', async () => {
    const db = open();
    const held: number[] = [];
    const sampling = setInterval(() => held.push(safeguards.queue.active), 1);
    await db.batch([
      db.insert(notes).values({ id: 1, body: 'a' }),
      db.insert(notes).values({ id: 2, body: 'b' }),
    ]);
    const error = await db
      .batch([db.insert(notes).values({ id: 3, body: 'c' }), db.insert(notes).values({ id: 1, body: 'dup' })])
      .catch((e: unknown) => e);
    clearInterval(sampling);
    expect(Math.max(...held)).toBe(1);
    expect(isSafeguardError(error) && error.sqlState).toBe('23505');
    expect((await db.select().from(notes)).map((row) => row.id).sort()).toEqual([1, 2]);
    expect(safeguards.queue.active).toBe(0);
  });
});
