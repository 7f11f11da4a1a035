import { createSafeguards, isSafeguardError } from '@db-safeguards/core';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../src/db/index.js';

// postgres.js waits before a closed connection connects again for the next query: by default up to
// 20 s, growing with every failed connection attempt of the pool (3^n / 100 s). After a PostgreSQL
// restart or two, a query handed to such a connection sat out that wait although the server was
// long back: a deferred dose held 10 s to its deadline right after an outage, half-open probes timed
// out and opened the breaker again, and BATCH work seemed to hang after a second restart. The app's
// pool (db/postgres-js/driver.ts) leaves the pacing to the safeguards; this checks it on a real server.

let server: TestPostgres;
beforeAll(async () => {
  server = await startTestPostgres({ appRoleConnectionLimit: 8 });
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

/** How a query under a 3 s deadline ended: `ok`, or the SafeguardError type it failed with. */
async function outcome(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
    return 'ok';
  } catch (error) {
    return isSafeguardError(error) ? error.type : String(error);
  }
}

describe("the app's postgres.js pool across PostgreSQL restarts", () => {
  it('while the server is down every query fails at once as CONNECTION, and once it is back every query is answered, restart after restart (no driver backoff waiting out the deadline)', async () => {
    // Neither the breaker nor retries in the way: the pool itself is under test.
    const safeguards = createSafeguards({
      breakers: { primary: { failureThreshold: 10_000 } },
      retry: { maxAttempts: 1 },
    });
    const database = await createDatabase({
      config: { driver: 'postgres', url: server.appUrl },
      safeguards,
      poolMax: 4,
    });
    const query = () =>
      outcome(() => safeguards.withContext({ timeoutMs: 3000 }, () => database.db.execute(sql`select 1`)));
    try {
      expect(await Promise.all(Array.from({ length: 4 }, query))).toEqual(Array(4).fill('ok'));
      for (let restart = 0; restart < 3; restart++) {
        await server.stopServer();
        const down: string[] = [];
        // One after another: each failed attempt lengthened postgres.js's default wait for the next.
        for (let attempt = 0; attempt < 12; attempt++) down.push(await query());
        expect(down, `restart ${restart}: queries while the server is down`).toEqual(
          Array(12).fill('CONNECTION'),
        );
        await server.startServer();
        expect(
          await Promise.all(Array.from({ length: 8 }, query)),
          `restart ${restart}: queries once the server is back`,
        ).toEqual(Array(8).fill('ok'));
      }
    } finally {
      await database.close();
      await safeguards.close();
    }
  }, 120_000);
});
