import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { throwawayPostgres } from './support/throwaway-postgres.js';

// Several instances share one role's CONNECTION LIMIT, and the shared budget hands a slot to another
// instance once this one stops using it. That only holds if this instance's pool then lets the
// connection go. postgres.js 3.4.9 reuses its idle connections oldest first (FIFO): with one query
// at a time, every connection of a pool that once ran four at once stayed warm, so none reached
// idle_timeout, and the other instances met "too many connections". patches/postgres@3.4.9.patch
// makes it reuse the connection that went idle last (LIFO, as pg-pool does): the rest go idle and close.

const throwaway = throwawayPostgres();

describe("postgres.js reuses its warmest idle connection (this repository's patch)", () => {
  it('a pool whose concurrency fell from 4 to 1 closes the connections it no longer needs within its idle timeout', async () => {
    const sql = postgres(throwaway.server.appUrl, { max: 4, idle_timeout: 1, onnotice: () => undefined });
    try {
      await Promise.all([0, 1, 2, 3].map(() => sql`select pg_sleep(0.2)`));
      expect(await throwaway.server.countAppConnections()).toBe(4);

      // One query at a time, well inside the idle timeout of every connection, for 2.5 s.
      const pids = new Set<number>();
      const until = Date.now() + 2500;
      while (Date.now() < until) {
        const [row] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
        pids.add(row!.pid);
        await sleep(20);
      }
      expect(pids.size).toBe(1);
      expect(await throwaway.server.countAppConnections()).toBe(1);
    } finally {
      await sql.end({ timeout: 1 });
    }
  }, 60_000);
});
