import { peerInstancesQuery, type Safeguards } from '@db-safeguards/core';
import { sql } from 'drizzle-orm';
import type { AppDatabase } from '../database.js';

/** Rows of a `db.execute` result, whatever the driver's result shape (array or `{ rows }`). */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] } | null)?.rows ?? []) as T[];
}

/**
 * `select 1` under the safeguards; `signal` cancels it. Inside `health({ probe: true })` it runs on the
 * probe's own CRITICAL slot.
 */
export async function probeDatabase(
  db: AppDatabase,
  safeguards: Safeguards,
  signal: AbortSignal | undefined,
): Promise<void> {
  await safeguards.withContext(signal ? { signal } : {}, () => db.execute(sql`select 1`));
}

/** The current role's client backends, from `pg_stat_activity`. */
export async function countRoleConnections(db: AppDatabase): Promise<number> {
  const result = await db.execute(
    sql`select count(*)::int as n from pg_stat_activity where usename = current_user and backend_type = 'client backend'`,
  );
  return Number(rowsOf<{ n: number }>(result)[0]?.n ?? 0);
}

/** The `application_name` of each of the current role's client backends (`peerInstancesQuery`). */
export async function listRoleApplicationNames(db: AppDatabase): Promise<Array<string | null>> {
  const result = await db.execute(sql.raw(peerInstancesQuery));
  return rowsOf<{ name: string | null }>(result).map((row) => row.name);
}
