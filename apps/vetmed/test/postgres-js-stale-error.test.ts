import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { throwawayPostgres } from './support/throwaway-postgres.js';

// When the server shuts down under a running query, it sends that query an ErrorResponse (57P01,
// "terminating connection due to administrator command") and closes the connection without a
// ReadyForQuery. postgres.js 3.4.9 kept that error, rejected the query with CONNECTION_CLOSED, and
// handed the kept 57P01 to the first query of the connection's next socket, after the server was
// back: a query against a healthy server failed with the old shutdown's error, and the app's breaker,
// probing the recovered database, opened again (the 10 s outage fault scenario failed now and then).
// patches/postgres@3.4.9.patch drops the error with the socket it came on.

const throwaway = throwawayPostgres();

describe("postgres.js forgets a closed connection's last error (this repository's patch)", () => {
  it('a query on the same pooled connection after a server restart is answered, not failed with the shutdown 57P01', async () => {
    const sql = postgres(throwaway.server.appUrl, { max: 1, backoff: () => 0.05, onnotice: () => undefined });
    try {
      await sql`select 1`;
      const running = sql`select pg_sleep(30)`.then(
        () => 'answered',
        (error: { code?: string }) => error.code ?? 'unknown',
      );
      await sleep(300);
      await throwaway.server.stopServer();
      expect(['57P01', 'CONNECTION_CLOSED']).toContain(await running);
      await throwaway.server.startServer();
      const after = await sql<{ one: number }[]>`select 1 as one`.then(
        (rows) => rows[0]!.one,
        (error: { code?: string }) => error.code ?? 'unknown',
      );
      expect(after).toBe(1);
    } finally {
      await sql.end({ timeout: 1 });
    }
  }, 60_000);
});
