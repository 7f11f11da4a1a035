import { type SQL, sql } from 'drizzle-orm';
import { rowsOf } from '../../src/db/safeguarded/common-queries.js';
import type { RunningVetmed } from '../../src/start-vetmed.js';

/** Rows of a raw query on the app's database, whatever the driver's result shape. */
export async function queryRows<Row>(app: RunningVetmed, query: SQL): Promise<Row[]> {
  return rowsOf<Row>(await app.database.db.execute(query));
}

/**
 * How many administrations were stored under each idempotency key (0 for keys never stored): the
 * ledger the no-lost, no-doubled-write checks compare acknowledgements against.
 */
export async function countsByKey(app: RunningVetmed, keys: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>(keys.map((key) => [key, 0]));
  const chunkSize = 500;
  for (let start = 0; start < keys.length; start += chunkSize) {
    const chunk = keys.slice(start, start + chunkSize);
    const rows = await queryRows<{ key: string; n: number }>(
      app,
      sql`select idempotency_key as key, count(*)::int as n from administrations where idempotency_key in (${sql.join(
        chunk.map((key) => sql`${key}`),
        sql`, `,
      )}) group by idempotency_key`,
    );
    for (const row of rows) counts.set(row.key, Number(row.n));
  }
  return counts;
}

/**
 * The stock of the user's medication in its household right now: what each dose applied draws down
 * by its amount. Rows per idempotency key cannot show a dose applied twice (the key is unique per
 * regimen); the stock can, so "stock drawn down = distinct doses acknowledged" is the doubled-dose check.
 */
export async function stockOf(
  app: RunningVetmed,
  user: { world: { household: { id: string }; medication: { id: string } } },
): Promise<number> {
  const [row] = await queryRows<{ quantity: number }>(
    app,
    sql`select quantity_on_hand::float8 as quantity from inventory where household_id = ${user.world.household.id} and medication_id = ${user.world.medication.id}`,
  );
  return Number(row?.quantity ?? 0);
}
