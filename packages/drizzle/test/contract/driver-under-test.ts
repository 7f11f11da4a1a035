import type { Safeguards } from '@db-safeguards/core';
import type { TestPostgres } from '@db-safeguards/test-postgres';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { notes } from './notes-table.js';

// biome-ignore lint/suspicious/noExplicitAny: any drizzle PostgreSQL database
export type AnyDb = PgDatabase<PgQueryResultHKT, { notes: typeof notes }, any>;

/** An open safeguarded database of one driver, and how to close what the test opened. */
export interface OpenDatabase {
  db: AnyDb;
  close(): Promise<void>;
  /** Rows in `notes`, read around the safeguards; default: through the server's superuser. */
  countNotes?(): Promise<number>;
}

/** One driver (or one way of using it) the contract suite runs on. */
export interface DriverUnderTest {
  name: string;
  /** Opens a safeguarded database as the server's app role, with a pool of at most `max` connections. */
  open(server: TestPostgres, safeguards: Safeguards, max: number): Promise<OpenDatabase>;
  /** Whether a top-level query (not only `db.transaction`) inside a transaction is caught as misuse. */
  catchesTopLevelQueryMisuse: boolean;
  /** Whether the driver holds server connections the role limit counts (PGlite does not). */
  usesServer: boolean;
  /** Whether the entry sets `statement_timeout` on its connections (neon-http has none of its own). */
  statementTimeout: boolean;
  /** Whether a deadline cancels a running statement on the server (PGlite cannot). */
  cancelsOnServer: boolean;
  /** Whether `db.transaction` is interactive (neon-http's is not). */
  interactiveTransactions: boolean;
}
