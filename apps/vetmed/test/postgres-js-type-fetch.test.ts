import { setTimeout as sleep } from 'node:timers/promises';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// On a new connection, postgres.js 3.4.9 first fetches the array types, in a promise nobody awaits.
// When that fetch fails (its backend is terminated mid-fetch, which CI once hit, or it may not read
// pg_type) the first query does get the error, but the fetch's own rejection is unhandled as well,
// which ends a Node process that has no handler. patches/postgres@3.4.9.patch drops that copy.
// Revoking SELECT on pg_type makes the fetch fail every time, so the race need not be won.

let server: TestPostgres;

beforeAll(async () => {
  server = await startTestPostgres();
  const admin = postgres(server.adminUrl, { max: 1, onnotice: () => undefined });
  await admin`revoke select on pg_catalog.pg_type from public`;
  await admin.end();
});

afterAll(async () => {
  await server?.stop();
});

describe('postgres.js when its array-type fetch fails', () => {
  it('rejects the waiting query with the error and leaves no unhandled rejection behind', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const sql = postgres(server.appUrl, { max: 1 });
    try {
      const error = await sql`select 1 as one`.then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error).toMatchObject({ name: 'PostgresError', code: '42501' });
      // Unhandled rejections are reported after the microtask queue drains; give them a moment.
      await sleep(100);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await sql.end({ timeout: 1 });
    }
  });
});
