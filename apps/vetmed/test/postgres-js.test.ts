import { setTimeout as sleep } from 'node:timers/promises';
import { createSafeguards } from '@db-safeguards/core';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../src/db/index.js';
import { rowsOf } from '../src/db/safeguarded/common-queries.js';
import { type ContractTarget, describeDatabaseContract } from './contract/database-contract.js';
import { serverChecks } from './support/server-checks.js';

let server: TestPostgres;
let admin: postgres.Sql;
let target: ContractTarget;

beforeAll(async () => {
  // Never the machine's own PostgreSQL: a throwaway server with the app role limited to 8 connections.
  server = await startTestPostgres({ appRoleConnectionLimit: 8 });
  admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  target = {
    open: (safeguards) => createDatabase({ config: { driver: 'postgres', url: server.appUrl }, safeguards }),
    server: serverChecks(server, admin),
  };
});

afterAll(async () => {
  await admin?.end({ timeout: 1 });
  await server?.stop();
});

describeDatabaseContract('postgres.js on PostgreSQL', () => target, { realServer: true });

describe('postgres.js retries', () => {
  it('reruns a query refused with 53300 on a fresh copy of the spent postgres.js query', async () => {
    // Another client takes the role's whole connection limit.
    const hog = postgres(server.appUrl, { max: 8, onnotice: () => {} });
    const held = await Promise.all(Array.from({ length: 8 }, () => hog.reserve()));
    const safeguards = createSafeguards({ retry: { baseDelayMs: 50, maxAttempts: 5 } });
    const retries: string[] = [];
    safeguards.onRetry((event) => retries.push(event.error.sqlState ?? event.error.reason));
    const database = await createDatabase({ config: { driver: 'postgres', url: server.appUrl }, safeguards });
    try {
      const pending = database.db
        .execute(sql`select 41 + 1 as answer`)
        .then((result) => rowsOf<{ answer: number }>(result));
      await sleep(150);
      for (const connection of held) connection.release();
      await hog.end({ timeout: 1 });
      await expect(pending).resolves.toEqual([{ answer: 42 }]);
      expect(retries.length).toBeGreaterThanOrEqual(1);
      expect(retries[0]).toBe('53300');
    } finally {
      await database.close();
      await safeguards.close();
      await hog.end({ timeout: 0 });
    }
  });
});
