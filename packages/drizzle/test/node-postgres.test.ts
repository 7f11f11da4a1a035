import { createSafeguards } from '@db-safeguards/core';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUnsupportedDriverError } from '../src/index.js';
import { drizzle, safeguardClient } from '../src/node-postgres/index.js';

// What is particular to node-postgres; the behaviour every driver shares is in node-postgres.contract.test.ts.

let server: TestPostgres;

beforeAll(async () => {
  server = await startTestPostgres();
});

afterAll(async () => {
  await server?.stop();
});

describe('node-postgres', () => {
  it('closes idle pooled connections beyond the limit when the effective limit drops', async () => {
    const safeguards = createSafeguards({
      queue: { maxConcurrentConnections: 4, reservedForCritical: 0 },
      retry: { maxAttempts: 1 },
    });
    const pool = new pg.Pool({ connectionString: server.appUrl, max: 4 });
    try {
      const db = drizzle({ client: pool, safeguards });
      await Promise.all(Array.from({ length: 4 }, () => db.execute(sql`select pg_sleep(0.1)`)));
      expect(pool.totalCount).toBe(4);
      expect(pool.idleCount).toBe(4);
      const limits: number[] = [];
      safeguards.onLimitChange((change) => limits.push(change.limit));
      // The database says it is full (53300): the process lowers its limit.
      const full = Object.assign(new Error('too many connections for role "app"'), { code: '53300' });
      await safeguards.run(() => Promise.reject(full)).catch(() => {});
      expect(limits.at(-1)).toBeLessThan(4);
      expect(pool.totalCount).toBe(limits.at(-1));
      await server.waitForAppConnections(limits.at(-1)!);
    } finally {
      await pool.end();
      await safeguards.close();
    }
  });

  it('refuses at creation what is neither a pg Pool nor a pg Client, naming the range', () => {
    const error = (() => {
      try {
        safeguardClient({ query: () => {} }, createSafeguards());
      } catch (e) {
        return e;
      }
    })();
    expect(isUnsupportedDriverError(error)).toBe(true);
    expect(String(error)).toContain('pg@>=8.11.0 <9');
  });

  it('refuses a Pool whose max is above the budget, pg default (10) included', () => {
    const safeguards = createSafeguards();
    expect(() => drizzle({ client: new pg.Pool({ connectionString: server.appUrl }), safeguards })).toThrow(
      /at most the connection budget \(8\), got 10/,
    );
  });
});
