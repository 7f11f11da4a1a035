import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { throwawayPostgres } from './support/throwaway-postgres.js';

// The app used to trim idle pooled connections with postgres.js's `close()` when the effective limit dropped
// (db/safeguarded/close-idle-connections.ts), e.g. while a Redis restart briefly lowers the shared
// budget. Unpatched, postgres.js 3.4.9's `close()` also "ends" every connection that has no socket
// (never opened, or closed when the server went away): it moves them to its ended list, from which
// nothing brings them back, so the pool shrinks for good and a later query waits for ever. With the
// database down during such a close, the app kept every deferred dose pending after the outage.
// patches/postgres@3.4.9.patch makes `close()` skip connections without a socket.

const throwaway = throwawayPostgres();

async function answersWithin<T>(query: Promise<T>, ms: number): Promise<T | 'no answer'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'no answer'>((resolve) => {
    timer = setTimeout(() => resolve('no answer'), ms);
  });
  try {
    return await Promise.race([query, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe("postgres.js close() leaves the pool usable (this repository's patch)", () => {
  it('after closing a pool with no connection open, and one with a connection closed by the server, queries are still answered', async () => {
    const sql = postgres(throwaway.server.appUrl, { max: 2, onnotice: () => undefined, connect_timeout: 5 });
    try {
      // Nothing opened yet: both connections have no socket.
      await (sql as unknown as { close(): Promise<void> }).close();
      expect(await answersWithin(sql`select 1 as one`, 5000)).toEqual([{ one: 1 }]);

      // A connection the server ended (as when it stops): closed, without a socket.
      const [backend] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
      const pid = backend!.pid;
      const admin = postgres(throwaway.server.adminUrl, { max: 1, onnotice: () => undefined });
      await admin`select pg_terminate_backend(${pid})`;
      await admin.end();
      await new Promise((resolve) => setTimeout(resolve, 200));
      for (let round = 0; round < 3; round++) await (sql as unknown as { close(): Promise<void> }).close();
      const answers = await answersWithin(
        Promise.all([sql`select 1 as one`, sql`select 2 as two`, sql`select 3 as three`]),
        5000,
      );
      expect(answers).toEqual([[{ one: 1 }], [{ two: 2 }], [{ three: 3 }]]);
    } finally {
      await sql.end({ timeout: 1 });
    }
  }, 60_000);
});
