import { fileURLToPath } from 'node:url';
import type { Safeguards } from '@db-safeguards/core';
import type { PGlite } from '@electric-sql/pglite';
import type { DatabaseConfig, DatabaseConfigInput } from './database-config.js';

/** The `neonConfig` fields a caller may set (see `@neondatabase/serverless`'s `neonConfig`). */
export interface NeonSettings {
  webSocketConstructor?: unknown;
  wsProxy?: string | ((host: string, port: number | string) => string) | undefined;
  useSecureWebSocket?: boolean;
  pipelineTLS?: boolean;
  pipelineConnect?: 'password' | false;
  [setting: string]: unknown;
}

/** Options of `createDatabase`. */
export interface CreateDatabaseOptions {
  /** Where the database is; fields left out are resolved as from the environment (`loadEnv().database`). */
  config?: DatabaseConfigInput;
  /** The process's one Safeguards instance: every query of this database runs under it. */
  safeguards: Safeguards;
  /** Connections in the pool. Default and maximum: `safeguards.queue.options.maxConcurrentConnections`. */
  poolMax?: number;
  /**
   * Seconds an idle pooled connection is kept open. Default 5: an idle connection still takes one of
   * the role's few slots, which another instance may need. Both pools reuse their most recently used
   * connection first, so a busy pool keeps the connections it uses warm and only what a burst opened
   * beyond that closes.
   */
  idleTimeoutSeconds?: number;
  /**
   * Neon only: settings assigned to the driver's global `neonConfig` before connecting (e.g. a local
   * WebSocket proxy in tests). `webSocketConstructor` defaults to the `ws` package (Node 20 has none).
   */
  neonConfig?: NeonSettings;
  /** PGlite only: an open instance to use instead of opening `pgliteDataDir`; `close()` leaves it open. */
  pglite?: PGlite;
  /** Default: the app's `drizzle/` folder. */
  migrationsFolder?: string;
  /** Deadline of one `migrate()` call. Default 300 000 ms. */
  migrationTimeoutMs?: number;
  /** `application_name` of the connections (shows in `pg_stat_activity`). Default `vetmed`. */
  applicationName?: string;
}

/** What a driver module receives: the options with every default applied. */
export interface DriverOptions {
  config: DatabaseConfig;
  safeguards: Safeguards;
  poolMax: number;
  idleTimeoutSeconds: number;
  neonConfig: NeonSettings | undefined;
  pglite: PGlite | undefined;
  migrationsFolder: string;
  migrationTimeoutMs: number;
  applicationName: string;
}

export const defaultMigrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));

function assertInteger(option: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new TypeError(
      `Expected ${option} to be an integer between ${min} and ${max}, got ${String(value)}`,
    );
}

export function resolveDriverOptions(options: CreateDatabaseOptions, config: DatabaseConfig): DriverOptions {
  const budget = options.safeguards.queue.options.maxConcurrentConnections;
  const poolMax = options.poolMax ?? budget;
  // A pool larger than the budget would let the driver open connections the budget never granted.
  assertInteger('poolMax', poolMax, 1, budget);
  const idleTimeoutSeconds = options.idleTimeoutSeconds ?? 5;
  assertInteger('idleTimeoutSeconds', idleTimeoutSeconds, 0);
  const migrationTimeoutMs = options.migrationTimeoutMs ?? 300_000;
  assertInteger('migrationTimeoutMs', migrationTimeoutMs, 1);
  return {
    config,
    safeguards: options.safeguards,
    poolMax,
    idleTimeoutSeconds,
    neonConfig: options.neonConfig,
    pglite: options.pglite,
    migrationsFolder: options.migrationsFolder ?? defaultMigrationsFolder,
    migrationTimeoutMs,
    applicationName: options.applicationName ?? 'vetmed',
  };
}
