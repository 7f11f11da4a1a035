import type { Database } from './database.js';
import { resolveDatabaseConfig } from './database-config.js';
import { type CreateDatabaseOptions, resolveDriverOptions } from './driver-options.js';

/**
 * Opens the database the configuration names (see `resolveDatabaseConfig`): PGlite when there is no
 * URL, Neon's WebSocket Pool for a `*.neon.tech` host or `driver: 'neon'`, postgres.js otherwise.
 * Each driver is imported only when chosen, so a server on postgres.js never loads PGlite's WASM.
 * Every query through the returned `db` runs under `options.safeguards`.
 *
 * @throws DatabaseConfigError for a bad setting, TypeError for a bad option (`poolMax` above the budget).
 */
export async function createDatabase(options: CreateDatabaseOptions): Promise<Database> {
  const config = resolveDatabaseConfig(options.config);
  const driverOptions = resolveDriverOptions(options, config);
  switch (config.driver) {
    case 'pglite':
      return (await import('./pglite/driver.js')).createPgliteDatabase(driverOptions);
    case 'postgres':
      return (await import('./postgres-js/driver.js')).createPostgresJsDatabase(driverOptions);
    case 'neon':
      return (await import('./neon/driver.js')).createNeonDatabase(driverOptions);
  }
}
