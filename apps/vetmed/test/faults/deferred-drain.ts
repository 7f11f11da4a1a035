import { setTimeout as sleep } from 'node:timers/promises';
import type { RunningVetmed } from '../../src/start-vetmed.js';
import { countsByKey } from '../support/ledger.js';
import type { CallRecord } from './steady-load.js';

/**
 * Watches the deferred doses being applied while the load goes on: every 100 ms, whether every dose
 * answered accepted-for-later so far is in the database. `done(records)` waits until every one of
 * them is, and resolves with the first moment that was so after the last acceptance.
 */
export function watchDrain(app: RunningVetmed, answered: () => CallRecord[]) {
  const samples: Array<{ at: number; allStored: boolean }> = [];
  let stopped = false;
  const accepted = (records: readonly CallRecord[]) =>
    records.filter((r) => r.degraded?.kind === 'accepted-for-later').map((r) => r.key!);
  const sample = async (keys: readonly string[]) => {
    const at = Date.now();
    const counts = await countsByKey(app, keys).catch(() => undefined);
    const allStored = counts !== undefined && keys.every((key) => (counts.get(key) ?? 0) >= 1);
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
