import { startFaultProxy } from '@db-safeguards/test-postgres';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { throwawayPostgres } from './support/throwaway-postgres.js';

// When a connection is reset (ECONNRESET), postgres.js 3.4.9 rejects the queries it has sent from the
// socket's 'error' event, and only later, from its 'close' event, moves the connection out of use. A
// query issued in between, for example a retry from the failed query's own catch handler, was queued
// on the dying connection, and the 'close' handler skipped failing queued queries after an error: that
// query never settled, and a caller without a deadline waited forever. (The test-postgres suite hit it
// once, in CI: a query after terminateAppBackends hung.) patches/postgres@3.4.9.patch fails such a
// query with CONNECTION_CLOSED, so the next one reconnects.

const throwaway = throwawayPostgres();

function settled<T>(promise: Promise<T>, ms: number): Promise<T | 'no answer'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'no answer'>((resolve) => {
    timer = setTimeout(() => resolve('no answer'), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('postgres.js settles a query issued while its connection is being reset (this repository’s patch)', () => {
  it('a query issued from the catch handler of the reset query fails at once, and the next one reconnects', async () => {
    const proxy = await startFaultProxy({
      targetHost: throwaway.server.host,
      targetPort: throwaway.server.port,
    });
    const sql = postgres(proxy.proxyUrl(throwaway.server.appUrl), {
      max: 1,
      backoff: () => 0.01,
      onnotice: () => undefined,
    });
    try {
      await sql`select 1`;
      let issuedInWindow: Promise<string> | undefined;
      const reset = sql`select pg_sleep(30)`.then(
        () => 'answered',
        (error: { code?: string }) => {
          // Synchronously, as a retry would: the connection has seen the error but not yet its close.
          issuedInWindow = sql`select 1 as one`.then(
            () => 'answered',
            (second: { code?: string }) => second.code ?? 'unknown',
          );
          return error.code ?? 'unknown';
        },
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(proxy.resetAll()).toBe(1);

      expect(await settled(reset, 3000)).toBe('ECONNRESET');
      expect(issuedInWindow).toBeDefined();
      expect(await settled(issuedInWindow!, 3000)).toBe('CONNECTION_CLOSED');
      const after = await settled(sql<{ one: number }[]>`select 1 as one`, 5000);
      expect(after).toEqual([{ one: 1 }]);
    } finally {
      await sql.end({ timeout: 0 });
      await proxy.close();
    }
  }, 30_000);
});
