import { setTimeout as sleep } from 'node:timers/promises';
import { createSafeguards } from '@db-safeguards/core';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../src/db/index.js';

/**
 * Issue 14: idle pooled connections of one instance kept the role's slots from the others. When the
 * effective limit drops below what the pool may have open, postgres.js's idle connections close.
 */
let server: TestPostgres;

beforeAll(async () => {
  server = await startTestPostgres({ appRoleConnectionLimit: 8 });
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

async function waitForBackends(predicate: (n: number) => boolean, timeoutMs: number): Promise<number> {
  const start = Date.now();
  for (;;) {
    const n = await server.countAppConnections();
    if (predicate(n) || Date.now() - start > timeoutMs) return n;
    await sleep(50);
  }
}

describe('postgres.js pool under a dropping effective limit', () => {
  it('closes idle connections when the limit drops below what the pool may keep, and keeps serving', async () => {
    const safeguards = createSafeguards({ queue: { reservedForCritical: 0 } });
    const database = await createDatabase({ config: { driver: 'postgres', url: server.appUrl }, safeguards });
    try {
      // Eight at once: the pool opens eight connections, idle afterwards (idle timeout 30 s).
      await Promise.all(Array.from({ length: 8 }, () => database.db.execute(sql`select pg_sleep(0.05)`)));
      expect(await waitForBackends((n) => n === 8, 2000)).toBe(8);

      // A limit that stays above what is open closes nothing.
      safeguards.limit.set('test', 8);
      await sleep(200);
      expect(await server.countAppConnections()).toBe(8);

      // The limit drops to 2 (as a shared grant or the database's "full" would): idle connections close.
      safeguards.limit.set('test', 2);
      expect(await waitForBackends((n) => n === 0, 4000)).toBe(0);

      // The pool is still usable, and opens no more than the limit allows.
      const sampler = server.sampleAppConnections(5);
      await Promise.all(Array.from({ length: 6 }, () => database.db.execute(sql`select pg_sleep(0.02)`)));
      expect((await sampler.stop()).peak).toBeLessThanOrEqual(2);
    } finally {
      await database.close();
      await safeguards.close();
    }
  }, 60_000);
});
