import { drizzle, migrate } from '@db-safeguards/drizzle/neon-serverless';
import { neonConfig, Pool } from '@neondatabase/serverless';
import { WebSocket } from 'ws';
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

/**
 * Neon's serverless driver: a pg-compatible `Pool` over WebSockets (interactive transactions work),
 * safeguarded by `@db-safeguards/drizzle/neon-serverless`. `neonConfig` is global to the driver:
 * `options.neonConfig` is assigned to it once here. On a pooled (`-pooler`) URL the statement timeout
 * is `SET LOCAL` per transaction; elsewhere it is a startup parameter.
 */
export async function createNeonDatabase(options: DriverOptions): Promise<Database> {
  const { config, safeguards } = options;
  const url = config.url!;
  neonConfig.webSocketConstructor ??= WebSocket;
  if (options.neonConfig) Object.assign(neonConfig, options.neonConfig);
  const pooled = isPooledUrl(url);
  const timeout = config.statementTimeoutMs;
  const pool = new Pool({
    connectionString: url,
    max: options.poolMax,
    idleTimeoutMillis: options.idleTimeoutSeconds * 1000,
    connectionTimeoutMillis: 10_000,
    application_name: options.applicationName,
    ...(timeout > 0 && !pooled ? { statement_timeout: timeout } : {}),
  });
  // An idle client whose connection dies (57P01 when a Neon compute suspends) emits here; without a
  // listener that would crash the process. The pool drops the client; the next query reconnects.
  pool.on('error', () => {});
  const db = drizzle({
    client: pool,
    schema,
    safeguards,
    statementTimeoutMs: false, // set above, from the app's configuration
    ...(timeout > 0 && pooled ? { transactionStatementTimeoutMs: timeout } : {}),
  }) as unknown as AppDatabase;

  return {
    db,
    driver: 'neon',
    safeguards,
    migrate: () =>
      guardMigrationOrder(db, 'neon', async () => {
        const settings = {
          migrationsFolder: options.migrationsFolder,
          timeoutMs: options.migrationTimeoutMs,
        };
        if (config.unpooledUrl === undefined || config.unpooledUrl === url)
          return migrate(db as never, settings);
        // A session-level advisory lock cannot work through PgBouncer: one direct connection for the run.
        const direct = new Pool({
          connectionString: config.unpooledUrl,
          max: 1,
          application_name: `migrate-${options.applicationName}`,
        });
        direct.on('error', () => {});
        try {
          await migrate(drizzle({ client: direct, safeguards, statementTimeoutMs: false }), settings);
        } finally {
          await direct.end().catch(() => {});
        }
      }),
    probe: (signal) => probeDatabase(db, safeguards, signal),
    countConnections: () => countRoleConnections(db),
    ...(pooled ? {} : { listApplicationNames: () => listRoleApplicationNames(db) }),
    close: () => pool.end(),
  };
}
