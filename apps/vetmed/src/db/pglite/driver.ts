import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate as applyMigrations } from 'drizzle-orm/pglite/migrator';
import type { AppDatabase, Database } from '../database.js';
import { inMemoryPglite } from '../database-config.js';
import type { DriverOptions } from '../driver-options.js';
import { probeDatabase } from '../safeguarded/common-queries.js';
import { guardDrizzle } from '../safeguarded/guard-drizzle.js';
import { migrationContext } from '../safeguarded/migration-context.js';
import { migrationOrder } from '../safeguarded/migration-order.js';
import * as schema from '../schema/index.js';
import { safeguardPglite } from './client.js';

/**
 * Embedded PostgreSQL (PGlite, WASM) in this process: the zero-setup default. Data lives in
 * `pgliteDataDir` (created on first use) or in memory (`memory://`). One connection: statements run
 * one at a time whatever the budget; a running statement cannot be cancelled.
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
  const client = safeguardPglite(pglite, safeguards);
  const order = migrationOrder('pglite');
  const db = guardDrizzle(drizzle({ client, schema }), {
    safeguards,
    owner: pglite,
    onUse: order.markUsed,
  }) as unknown as AppDatabase;

  return {
    db,
    driver: 'pglite',
    safeguards,
    migrate: () =>
      order.guard(() =>
        safeguards.run(
          () => applyMigrations(drizzle({ client: pglite }), { migrationsFolder: options.migrationsFolder }),
          migrationContext(options.migrationTimeoutMs),
        ),
      ),
    probe: (signal) => probeDatabase(db, safeguards, signal),
    close: async () => {
      if (owned && !pglite.closed) await pglite.close();
    },
  };
}
