import { setTimeout as sleep } from 'node:timers/promises';
import type postgres from 'postgres';
import type { CallRecord } from './steady-load.js';

/** How many of `keys` are stored, asked on the test's own superuser connection (not the app's). */
async function storedCount(admin: postgres.Sql, keys: readonly string[]): Promise<number> {
  if (keys.length === 0) return 0;
  const [row] = await admin<[{ n: number }]>`
    select count(distinct idempotency_key)::int as n from administrations where idempotency_key = any(${keys as string[]})`;
  return row!.n;
}

/**
 * Watches the deferred doses being applied while the load goes on: every 100 ms, whether every dose
 * answered accepted-for-later so far is in the database. `done(records)` waits until every one of
 * them is, and resolves with the first moment that was so after the last acceptance. It asks on the
 * test's own connection straight to the server, so the watching neither waits on nor loads the app.
 */
export function watchDrain(admin: postgres.Sql, answered: () => CallRecord[]) {
  const samples: Array<{ at: number; allStored: boolean }> = [];
  let stopped = false;
  const accepted = (records: readonly CallRecord[]) =>
    records.filter((r) => r.degraded?.kind === 'accepted-for-later').map((r) => r.key!);
  const sample = async (keys: readonly string[]) => {
    const at = Date.now();
    const stored = await storedCount(admin, keys).catch(() => -1);
    const allStored = stored === keys.length;
    samples.push({ at, allStored });
    return allStored;
  };
  const polling = (async () => {
    while (!stopped) {
      await sample(accepted(answered()));
      await sleep(100);
    }
  })();
  return {
    async done(records: readonly CallRecord[], limitMs: number): Promise<{ doneAt: number }> {
      const keys = accepted(records);
      const lastAccepted = Math.max(
        0,
        ...records.filter((r) => r.degraded?.kind === 'accepted-for-later').map((r) => r.endedAt),
      );
      const deadline = Date.now() + limitMs;
      while (!(await sample(keys)) && Date.now() < deadline) await sleep(100);
      stopped = true;
      await polling;
      const first = samples.find((s) => s.at >= lastAccepted && s.allStored);
      return { doneAt: first?.at ?? Number.POSITIVE_INFINITY };
    },
  };
}
