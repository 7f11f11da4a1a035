import { Client, neonConfig, Pool } from '@neondatabase/serverless';
import { drizzle } from 'drizzle-orm/neon-serverless';
import { migrate as applyMigrations } from 'drizzle-orm/neon-serverless/migrator';
import { WebSocket } from 'ws';
import type { AppDatabase, Database } from '../database.js';
import { isPooledUrl } from '../database-config.js';
import { type DriverOptions, migrationLockKey } from '../driver-options.js';
import { countRoleConnections, probeDatabase } from '../safeguarded/common-queries.js';
import { guardDrizzle } from '../safeguarded/guard-drizzle.js';
import { migrationContext } from '../safeguarded/migration-context.js';
import { migrationOrder } from '../safeguarded/migration-order.js';
import { onAbort } from '../safeguarded/run-context.js';
import * as schema from '../schema/index.js';
import { safeguardNeonPool } from './client.js';

/**
 * Neon's serverless driver: a pg-compatible `Pool` over WebSockets (interactive transactions work).
 * `neonConfig` is global to the driver: `options.neonConfig` is assigned to it once here. On a pooled
 * (`-pooler`) URL the statement timeout is `SET LOCAL` per transaction; elsewhere it is a startup
 * parameter.
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
  const client = safeguardNeonPool(pool, safeguards, url);
  const order = migrationOrder('neon');
  const db = guardDrizzle(drizzle({ client, schema }), {
    safeguards,
    owner: pool,
    onUse: order.markUsed,
    transactionStatementTimeoutMs: timeout > 0 && pooled ? timeout : undefined,
  }) as unknown as AppDatabase;

  return {
    db,
    driver: 'neon',
    safeguards,
    migrate: () =>
      order.guard(() =>
        safeguards.run(async (scope) => {
          const migrator = new Client({
            connectionString: config.unpooledUrl ?? url,
            application_name: `${options.applicationName}-migrate`,
          });
          migrator.on('error', () => {});
          const detach = onAbort(scope.signal, () => void migrator.end().catch(() => {}));
          try {
            // Inside the try: a failed connect must detach the listener and end the client too.
            await migrator.connect();
            await migrator.query('select pg_advisory_lock($1::bigint)', [String(migrationLockKey)]);
            await applyMigrations(drizzle({ client: migrator }), {
              migrationsFolder: options.migrationsFolder,
            });
            await migrator.query('select pg_advisory_unlock($1::bigint)', [String(migrationLockKey)]);
          } finally {
            detach();
            await migrator.end().catch(() => {});
          }
        }, migrationContext(options.migrationTimeoutMs)),
      ),
    probe: (signal) => probeDatabase(db, safeguards, signal),
    countConnections: () => countRoleConnections(db),
    close: () => pool.end(),
  };
}
