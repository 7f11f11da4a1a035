import { drizzle, migrate } from '@db-safeguards/drizzle/postgres-js';
import postgres from 'postgres';
import type { AppDatabase, Database } from '../database.js';
import { isPooledUrl } from '../database-config.js';
import type { DriverOptions } from '../driver-options.js';
import {
  countRoleConnections,
  listRoleApplicationNames,
  probeDatabase,
} from '../safeguarded/common-queries.js';
import { guardMigrationOrder } from '../safeguarded/migration-order.js';
import * as schema from '../schema/index.js';

const ignoreNotice = () => {};

/**
 * PostgreSQL over TCP with postgres.js, safeguarded by `@db-safeguards/drizzle/postgres-js`. The pool
 * never exceeds the budget; `statement_timeout` is a startup parameter (a server-side backstop for every
 * statement) unless the URL is a PgBouncer (`-pooler`) endpoint, which refuses it: there each
 * transaction sets it with `SET LOCAL`.
 */
export async function createPostgresJsDatabase(options: DriverOptions): Promise<Database> {
  const { config, safeguards } = options;
  const url = config.url!;
  const pooled = isPooledUrl(url);
  const timeout = config.statementTimeoutMs;
  const sql = postgres(url, {
    max: options.poolMax,
    idle_timeout: options.idleTimeoutSeconds || undefined,
    connect_timeout: 10,
    // postgres.js's own reconnect backoff is off (50 ms at most): by default a connection closed by
    // a failure connects again for the next query only after up to 20 s, growing with every failed
    // attempt of the pool, so after an outage a query handed to one sat out that wait although the
    // server was back (a deferred dose held to its 10 s deadline, half-open probes timing out). The
    // safeguards pace the attempts instead: an open breaker admits only probes, retries back off.
    // (test/postgres-js-reconnect-backoff.test.ts)
    backoff: () => 0.05,
    onnotice: ignoreNotice,
    connection: {
      application_name: options.applicationName,
      ...(timeout > 0 && !pooled ? { statement_timeout: timeout } : {}),
    },
  });
  const db = drizzle({
    client: sql,
    schema,
    safeguards,
    statementTimeoutMs: false, // set above, from the app's configuration
    ...(timeout > 0 && pooled ? { transactionStatementTimeoutMs: timeout } : {}),
  }) as unknown as AppDatabase;

  return {
    db,
    driver: 'postgres',
    safeguards,
    migrate: () =>
      guardMigrationOrder(db, 'postgres', async () => {
        const settings = {
          migrationsFolder: options.migrationsFolder,
          timeoutMs: options.migrationTimeoutMs,
        };
        if (config.unpooledUrl === undefined || config.unpooledUrl === url)
          return migrate(db as never, settings);
        // A session-level advisory lock needs the direct host: one connection of its own, for the run.
        const direct = postgres(config.unpooledUrl, {
          max: 1,
          onnotice: ignoreNotice,
          connection: { application_name: `migrate-${options.applicationName}` },
        });
        try {
          await migrate(drizzle({ client: direct, safeguards, statementTimeoutMs: false }), settings);
        } finally {
          await direct.end({ timeout: 5 });
        }
      }),
    probe: (signal) => probeDatabase(db, safeguards, signal),
    countConnections: () => countRoleConnections(db),
    ...(pooled ? {} : { listApplicationNames: () => listRoleApplicationNames(db) }),
    close: () => sql.end({ timeout: 5 }),
  };
}
