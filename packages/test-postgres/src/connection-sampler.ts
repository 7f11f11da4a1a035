import postgres from 'postgres';
import { assertInteger } from './internal/validate.js';

/** What a {@link ConnectionSampler} saw between its start and `stop()`. */
export interface ConnectionSample {
  /** The highest number of the role's backends seen in any one sample. */
  peak: number;
  /** How many samples succeeded (the final one taken by `stop()` included). */
  samples: number;
  /** How many samples failed, e.g. while the server was stopped. */
  errors: number;
}

/**
 * Polls `pg_stat_activity` for one role's backends at a fixed interval, through one dedicated superuser
 * connection that does not count against that role's `CONNECTION LIMIT`.
 */
export interface ConnectionSampler {
  /** Live readout: the highest count so far. */
  readonly peak: number;
  /** Live readout: the number of successful samples so far. */
  readonly samples: number;
  /** Takes one last sample, stops polling, closes the admin connection and reports. Idempotent. */
  stop(): Promise<ConnectionSample>;
}

/** Reads a backend count through the given admin connection. */
export type ConnectionCountQuery = (sql: postgres.Sql) => Promise<number>;

/**
 * Counts the client backends of `role` (connections still authenticating have no user yet and are not
 * counted; PostgreSQL checks the role limit only after authentication too).
 */
export function countRoleBackends(role: string): ConnectionCountQuery {
  return async (sql) => {
    const rows = await sql<{ count: number }[]>`
      select count(*)::int as count from pg_stat_activity
      where usename = ${role} and backend_type = 'client backend' and pid <> pg_backend_pid()`;
    return rows[0]?.count ?? 0;
  };
}

/**
 * Starts sampling right away (the first sample is taken immediately). Used by
 * `TestPostgres.sampleAppConnections`; exported for servers reached by URL only.
 *
 * @param adminUrl - a superuser (or `pg_read_all_stats`) URL; one connection is opened to it.
 * @param role - the role whose backends are counted.
 * @param intervalMs - the pause between two samples; default 10 ms.
 */
export function startConnectionSampler(adminUrl: string, role: string, intervalMs = 10): ConnectionSampler {
  assertInteger('intervalMs', intervalMs, 1);
  const sql = postgres(adminUrl, {
    max: 1,
    idle_timeout: 0,
    connect_timeout: 5,
    onnotice: () => undefined,
    connection: { application_name: 'test-postgres-sampler' },
  });
  const count = countRoleBackends(role);
  let peak = 0;
  let samples = 0;
  let errors = 0;
  let stopping = false;
  let wake: (() => void) | undefined;
  let result: Promise<ConnectionSample> | undefined;

  const sampleOnce = async () => {
    try {
      peak = Math.max(peak, await count(sql));
      samples++;
    } catch {
      errors++;
    }
  };

  const loop = (async () => {
    while (!stopping) {
      await sampleOnce();
      if (stopping) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  })();

  return {
    get peak() {
      return peak;
    },
    get samples() {
      return samples;
    },
    stop() {
      result ??= (async () => {
        stopping = true;
        wake?.();
        await loop;
        await sampleOnce();
        await sql.end({ timeout: 1 }).catch(() => undefined);
        return { peak, samples, errors };
      })();
      return result;
    },
  };
}
