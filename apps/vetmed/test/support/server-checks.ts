import type { TestPostgres } from '@db-safeguards/test-postgres';
import postgres from 'postgres';
import type { ContractTarget } from '../contract/database-contract.js';

/** The server-side checks of the contract, over one superuser connection (not counted against the role). */
export function serverChecks(
  server: TestPostgres,
  admin: postgres.Sql,
): NonNullable<ContractTarget['server']> {
  return {
    connectionLimit: server.appConnectionLimit,
    async countActiveStatements(fragment) {
      const [row] = await admin<[{ n: number }]>`
        select count(*)::int as n from pg_stat_activity
        where usename = ${server.appRole} and state = 'active' and pid <> pg_backend_pid()
          and position(${fragment} in query) > 0`;
      return row.n;
    },
    sampleConnections: () => server.sampleAppConnections(5),
    waitForConnections: (count) => server.waitForAppConnections(count, { timeoutMs: 10_000 }),
    async holdConnections(count) {
      const other = postgres(server.appUrl, { max: count, onnotice: () => {} });
      const held = await Promise.all(Array.from({ length: count }, () => other.reserve()));
      return async () => {
        for (const connection of held) connection.release();
        await other.end({ timeout: 1 });
      };
    },
  };
}
