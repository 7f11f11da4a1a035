import { mkdir } from 'node:fs/promises';
import { drizzle, migrate } from '@db-safeguards/drizzle/pglite';
import { PGlite } from '@electric-sql/pglite';
import type { AppDatabase, Database } from '../database.js';
import { inMemoryPglite } from '../database-config.js';
import type { DriverOptions } from '../driver-options.js';
import { probeDatabase } from '../safeguarded/common-queries.js';
import { guardMigrationOrder } from '../safeguarded/migration-order.js';
import * as schema from '../schema/index.js';

/**
 * Embedded PostgreSQL (PGlite, WASM) in this process: the zero-setup default, safeguarded by
 * `@db-safeguards/drizzle/pglite`. Data lives in `pgliteDataDir` (created on first use) or in memory
 * (`memory://`). One connection: statements run one at a time whatever the budget; a running statement
 * cannot be cancelled.
 */
export async function createPgliteDatabase(options: DriverOptions): Promise<Database> {
  const { config, safeguards } = options;
  let raw = options.pglite;
  const owned = raw === undefined;
  if (!raw) {
    const dataDir = config.pgliteDataDir;
    if (dataDir !== inMemoryPglite) await mkdir(dataDir, { recursive: true });
    raw = await PGlite.create(dataDir === inMemoryPglite ? undefined : dataDir);
  }
  const pglite = raw;
  const db = drizzle({ client: pglite, schema, safeguards }) as unknown as AppDatabase;

  return {
    db,
    driver: 'pglite',
    safeguards,
    migrate: () =>
      guardMigrationOrder(db, 'pglite', () =>
        migrate(db as never, {
          migrationsFolder: options.migrationsFolder,
          timeoutMs: options.migrationTimeoutMs,
        }),
      ),
    probe: (signal) => probeDatabase(db, safeguards, signal),
    close: async () => {
      if (owned && !pglite.closed) await pglite.close();
    },
  };
}
