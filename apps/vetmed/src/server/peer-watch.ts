import {
  type ConnectionLimitReading,
  type PeerWatch,
  Priority,
  type Safeguards,
  watchPeerInstances,
} from '@db-safeguards/core';
import type { Logger } from 'pino';
import type { Database } from '../db/index.js';
import type { AppConfig } from '../env.js';

/** What every instance's `application_name` starts with; the rest is the instance's own id. */
export const peerPrefix = 'vetmed:';

/**
 * Without Redis, the instances of the app see each other in `pg_stat_activity` (each names its
 * connections `vetmed:<pid>-<random>`) and each holds at most its share of the connections the
 * database allows the role (`watchPeerInstances`). Not with a shared budget (Redis already splits the
 * capacity), not on PGlite or behind a pooler (nothing to see), and not with PEER_SHARE=off.
 */
export function watchPeers(
  database: Database,
  safeguards: Safeguards,
  config: Pick<AppConfig, 'peerShare'>,
  withoutSharedBudget: boolean,
  reading: ConnectionLimitReading | undefined,
  self: string,
  log: Logger,
): PeerWatch | undefined {
  const list = database.listApplicationNames;
  if (!config.peerShare || !withoutSharedBudget || list === undefined) return undefined;
  const budget = safeguards.queue.options.maxConcurrentConnections;
  // What all instances share: the database's limit for the role when it was read, else the budget.
  const capacity = Math.min(budget, reading?.limit ?? budget);
  log.info({ self, capacity }, 'sharing the role’s connections with the instances seen in pg_stat_activity');
  let lastDone = 0;
  return watchPeerInstances(safeguards, {
    capacity,
    self,
    prefix: peerPrefix,
    // Busy: operations other than the last look ran since, or some run or wait now. An idle app
    // makes no looks, so its pool's connections close and a Neon compute can suspend.
    isBusy: () => {
      const stats = safeguards.queue.stats();
      const done = stats.processed + stats.failed;
      const busy = done - lastDone > 1 || stats.active > 0 || stats.queued > 0;
      lastDone = done;
      return busy;
    },
    // A look is one short read; HIGH so that it is not held back behind the load it is about.
    listApplicationNames: () =>
      safeguards.withContext({ priority: Priority.HIGH, timeoutMs: 2000 }, () => list.call(database)),
    onChange: ({ instances, share }) =>
      log.info({ instances, share }, 'instances sharing the role’s connections changed'),
  });
}
