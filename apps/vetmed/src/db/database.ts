import type { Safeguards } from '@db-safeguards/core';
import type { ExtractTablesWithRelations } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import type { DriverName } from './database-config.js';
import type * as schema from './schema/index.js';

export type Schema = typeof schema;

/**
 * The typed drizzle database every driver returns (schema and relations included, so `db.query.*`
 * works). A transaction handle is one too, so functions taking an `AppDatabase` accept `tx`.
 */
export type AppDatabase = PgDatabase<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;

/** The `tx` handed to a `db.transaction` callback. */
export type AppTransaction = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;

/** An open database: the same shape whatever the driver. */
export interface Database {
  /** Every query made through it runs under the safeguards (one `run` per statement or transaction). */
  readonly db: AppDatabase;
  readonly driver: DriverName;
  readonly safeguards: Safeguards;
  /**
   * Applies pending migrations from `drizzle/` in one transaction, over the unpooled URL when one is
   * configured, holding one slot of the budget for the whole run (its own deadline: `migrationTimeoutMs`).
   * Concurrent callers (several instances starting at once) queue on an advisory lock. Call it at start,
   * before the first query: on postgres.js and Neon it opens one connection of its own, which on top of
   * a warm pool could exceed the budget, so once `db` has served a query it rejects with a
   * `MigrationOrderError` (on PGlite too, whose one connection is not at stake: the order is the same
   * on every driver).
   */
  migrate(): Promise<void>;
  /** `select 1` under the safeguards; rejects with a SafeguardError. For `health.probe`. */
  probe(signal?: AbortSignal): Promise<void>;
  /** The app role's backends on the server (`pg_stat_activity`), counted with one read query. Not on PGlite. */
  countConnections?(): Promise<number>;
  /**
   * The `application_name` of each of the app role's backends, for seeing the app's other instances
   * (`watchPeerInstances`). Not on PGlite, nor behind a pooler (`-pooler` URL), whose backends
   * belong to PgBouncer and do not carry the instances' names.
   */
  listApplicationNames?(): Promise<Array<string | null>>;
  /** Closes the pool (or PGlite). Does not close the safeguards, which the caller owns. */
  close(): Promise<void>;
}
