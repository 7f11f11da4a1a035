import { type ConnectionLimitReading, checkConnectionLimit, connectionLimitQuery } from '@db-safeguards/core';
import { readConnectionLimit } from '@db-safeguards/core/advanced';
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database } from '../db/index.js';
import { rowsOf } from '../db/safeguarded/common-queries.js';

/** What start-up does when the budget exceeds what the database allows (env CONNECTION_LIMIT_CHECK). */
export const connectionLimitChecks = ['warn', 'error', 'off'] as const;
export type ConnectionLimitCheck = (typeof connectionLimitChecks)[number];

/**
 * At start, reads the role's CONNECTION LIMIT and the server's max_connections (minus reserved slots)
 * and compares `budget` with them: a typed warning in the log (`code: budget-exceeds-connection-limit`),
 * or with `error` a `ConnectionLimitExceededError` that stops the start. PGlite has one in-process
 * connection: nothing to check. A failed read is logged and start goes on: the check is advice.
 * Returns what it read (undefined when it read nothing).
 */
export async function checkDatabaseConnectionLimit(
  database: Database,
  budget: number,
  mode: ConnectionLimitCheck,
  log: Logger,
): Promise<ConnectionLimitReading | undefined> {
  if (mode === 'off' || database.driver === 'pglite') return undefined;
  let row: Record<string, unknown> | undefined;
  try {
    row = rowsOf<Record<string, unknown>>(await database.db.execute(sql.raw(connectionLimitQuery)))[0];
  } catch (error) {
    log.warn({ error: String(error) }, 'could not read the database connection limit');
    return undefined;
  }
  if (row === undefined) return undefined;
  checkConnectionLimit(budget, row, {
    exceeded: mode,
    onWarning: (warning) =>
      log.warn({ code: warning.code, budget: warning.budget, ...warning.reading }, warning.message),
  });
  return readConnectionLimit(row);
}
