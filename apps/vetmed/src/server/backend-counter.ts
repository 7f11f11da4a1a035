import type { Database } from '../db/index.js';

/** The health probe, made to count the app role's backends on the way. */
export interface BackendCounter {
  /**
   * The database probe for `health.probe`: one query that counts the app role's client backends
   * (`pg_stat_activity`, as cheap as `select 1`: the view reads shared memory, no table), or
   * `select 1` where there are none to count. Rejects, as a probe must, when the database does not
   * answer.
   */
  probe(signal?: AbortSignal): Promise<void>;
  /** The count of the last probe that answered, and when; undefined before one or where not counted. */
  latest(): { count: number; countedAt: number } | undefined;
  /** Why backends are not counted, when they are not. */
  readonly note: string | undefined;
}

/**
 * Counts backends in the health probe the app already runs (at most one a second, shared by every
 * health check and the dashboard), so the operator sees the server's side of the budget without a
 * query of its own.
 */
export function createBackendCounter(database: Database): BackendCounter {
  const count = database.countConnections?.bind(database);
  let latest: { count: number; countedAt: number } | undefined;
  if (!count)
    return {
      probe: (signal) => database.probe(signal),
      latest: () => undefined,
      note: `${database.driver} runs inside the app's process: one connection, no server backends to count`,
    };
  return {
    async probe(signal) {
      const counted = await database.safeguards.withContext(signal ? { signal } : {}, () => count());
      latest = { count: counted, countedAt: Date.now() };
    },
    latest: () => latest,
    note: undefined,
  };
}
