import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { resolve } from 'node:path';
import { defaultRateLimitPolicies, type RetryOptions } from '@db-safeguards/core/advanced';
import {
  type FaultProxy,
  startFaultProxy,
  startTestPostgres,
  type TestPostgres,
} from '@db-safeguards/test-postgres';
import postgres from 'postgres';
import { loadEnv } from '../../src/env.js';
import { createLogger } from '../../src/server/logger.js';
import { type RunningVetmed, startVetmed } from '../../src/start-vetmed.js';
import { type CommittedAttempts, doseId } from './steady-load.js';
import { createTeardown, type Teardown } from './teardown.js';

/** A real PostgreSQL, our fault proxy in front of it, and the app talking to it through the proxy. */
export interface FaultTarget {
  server: TestPostgres;
  proxy: FaultProxy;
  app: RunningVetmed;
  /** A superuser connection straight to the server (not through the proxy, not counted against the role). */
  admin: postgres.Sql;
  /**
   * How many times the database executed and committed a dose insert, per dose (regimen and
   * idempotency key). Counted by a trigger this fixture adds (see {@link countDoseAttempts}): a write
   * the server ran twice shows 2 even though the unique key kept the second from storing a row.
   */
  committedAttempts: CommittedAttempts;
  stop(): Promise<void>;
}

/**
 * Counts every committed execution of a dose insert, in a table of the test's own. A BEFORE INSERT row
 * trigger fires for every row an INSERT proposes, ON CONFLICT DO NOTHING included, and its row commits
 * or rolls back with the transaction: so a dose recording the server executed again after it had
 * committed (a retry of a write whose outcome it did not know) leaves two rows for its dose. A dose is
 * its regimen and its idempotency key, the pair the schema keeps unique: the same key on two regimens
 * is two doses. `security definer`: the app role may not write the superuser's table itself. `admin`:
 * a superuser connection to the app's database, after its migrations. Resolves with the counter.
 */
export async function countDoseAttempts(admin: postgres.Sql): Promise<CommittedAttempts> {
  await admin.unsafe(`
    create table fault_dose_attempts (
      regimen_id uuid not null, idempotency_key text not null, at timestamptz not null default clock_timestamp());
    create function fault_count_dose_attempt() returns trigger language plpgsql security definer as $$
      begin
        insert into fault_dose_attempts (regimen_id, idempotency_key) values (new.regimen_id, new.idempotency_key);
        return new;
      end $$;
    create trigger fault_count_dose_attempt before insert on administrations
      for each row execute function fault_count_dose_attempt();
  `);
  return async (doses) => {
    const counts = new Map<string, number>();
    for (let start = 0; start < doses.length; start += 500) {
      const chunk = doses.slice(start, start + 500);
      const rows = await admin<{ regimen: string; key: string; n: number }[]>`
        select a.regimen_id::text as regimen, a.idempotency_key as key, count(*)::int as n
        from fault_dose_attempts a
        join unnest(${chunk.map((dose) => dose.regimenId)}::uuid[], ${chunk.map((dose) => dose.idempotencyKey)}::text[])
          as asked (regimen_id, idempotency_key)
          on asked.regimen_id = a.regimen_id and asked.idempotency_key = a.idempotency_key
        group by a.regimen_id, a.idempotency_key`;
      for (const row of rows) counts.set(doseId({ regimenId: row.regimen, idempotencyKey: row.key }), row.n);
    }
    return doses.map((dose) => counts.get(doseId(dose)) ?? 0);
  };
}

/**
 * Rate limits out of the way of a test's load (the faults are its subject): every default policy's
 * limit raised to a million, as environment variables for `loadEnv`.
 */
export const rateLimitsOutOfTheWay: Readonly<Record<string, string>> = Object.fromEntries(
  Object.keys(defaultRateLimitPolicies).map((policy) => [
    `RATE_LIMIT_${policy.toUpperCase()}_MAX`,
    '1000000',
  ]),
);

/**
 * Starts the target. Rate limits are out of the way (the faults are the subject), deadlines are short
 * so the scenarios are quick, and the breaker's open time is short (CIRCUIT_TIMEOUT_MS) for the same reason.
 * `retry`: retry options with no environment variable (the retry budget), over the configured ones.
 * Everything started is registered on `teardown` as it comes up: when a step of the setup fails, what
 * had started is closed before the error is rethrown, and the target's `stop()` closes every part even
 * when one of them fails to close.
 */
export async function startFaultTarget(
  env: Record<string, string> = {},
  retry: Partial<RetryOptions> = {},
  teardown: Teardown = createTeardown(),
): Promise<FaultTarget> {
  try {
    const server = teardown.add(
      'PostgreSQL',
      await startTestPostgres({
        appRoleConnectionLimit: 8,
        postgresFlags: ['-c', 'client_connection_check_interval=100ms'],
      }),
      (started) => started.stop(),
    );
    const proxy = teardown.add(
      'proxy',
      await startFaultProxy({ targetHost: server.host, targetPort: server.port }),
      (started) => started.close(),
    );
    const admin = teardown.add(
      'admin connection',
      // No reconnect backoff of postgres.js's own (see the app's driver): after an outage the test's
      // checks, such as the drain watched every 100 ms, would otherwise wait seconds for it.
      postgres(server.adminUrl, { max: 2, backoff: () => 0.05, onnotice: () => undefined }),
      (sql) => sql.end({ timeout: 1 }),
    );
    const config = loadEnv({
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      SEED_DEMO: 'false',
      TRUST_PROXY: '127.0.0.1',
      DATABASE_URL: proxy.proxyUrl(server.appUrl),
      REQUEST_TIMEOUT_MS: '3000',
      SHUTDOWN_DRAIN_MS: '1000',
      CIRCUIT_TIMEOUT_MS: '5000',
      // The faults are the subject, not the machine's load: with load shedding on (the default off
      // PGlite), a busy test machine's event-loop delay would answer 503s of its own and make the
      // scenarios' counts depend on what else runs. A test about load passes LOAD_SHEDDING itself.
      LOAD_SHEDDING: 'off',
      ...rateLimitsOutOfTheWay,
      ...env,
    });
    config.safeguards = { ...config.safeguards, retry: { ...config.safeguards.retry, ...retry } };
    const app = teardown.add('app', await startVetmed(config, { log: createLogger('silent') }), (started) => {
      // A fault a test left on would hold the app's drain until its deadline.
      proxy.resume();
      proxy.dropNewConnections(false);
      proxy.setLatency(0);
      return started.stop();
    });
    const committedAttempts = await countDoseAttempts(admin);
    return { server, proxy, app, admin, committedAttempts, stop: () => teardown.close() };
  } catch (error) {
    await closeAfterFailedSetup(teardown, error);
    throw error;
  }
}

/**
 * Closes what a failed setup had started. The setup's error is what the caller must see; a failure to
 * close as well is reported with it rather than instead of it.
 */
export async function closeAfterFailedSetup(teardown: Teardown, setupError: unknown): Promise<void> {
  try {
    await teardown.close();
  } catch (closeError) {
    throw new AggregateError(
      [setupError, closeError],
      `setup failed (${String((setupError as Error)?.message ?? setupError)}), and closing what it had started failed too`,
    );
  }
}

/** What the reliability report shows for one scenario. */
export interface ScenarioFigures {
  scenario: string;
  load: string;
  faults: string;
  requests: number;
  acknowledgedWrites: number;
  unacknowledgedWrites: number;
  lostWrites: number;
  duplicatedWrites: number;
  /** Doses' worth of stock drawn down in the users' households (null where the scenario writes nothing). */
  stockDrawn: number | null;
  /** Distinct doses acknowledged to their clients (after their retries); must equal `stockDrawn`. */
  distinctDoses: number | null;
  /** Longest time from the end of a fault to the first success after it, in ms (null when not measured). */
  recoveryMs: number | null;
  notes: string[];
}

/** What the reliability report shows for one bad-input test. */
export interface BadInputFigures {
  title: string;
  /** The test file, from the repository root. */
  test: string;
  /** Generated inputs the property was checked against. */
  runs: number;
  /** What the run found, from its own counts. */
  findings: string[];
}

/**
 * Where `pnpm reliability:report` collects the figures, and the run they belong to: the report's
 * command sets both (RELIABILITY_RESULTS_DIR, RELIABILITY_RUN_ID) for the suite it starts. A run of the
 * suite by other means (CI, a developer) records with no run id, which the report refuses to render.
 */
const resultsDir =
  process.env.RELIABILITY_RESULTS_DIR ?? resolve(import.meta.dirname, '../../../../.reports/reliability');
const runId = process.env.RELIABILITY_RUN_ID ?? null;

function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown CPU',
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
  };
}

function save(id: string, kind: 'scenario' | 'bad-input' | 'abuse', figures: object): void {
  mkdirSync(resultsDir, { recursive: true });
  const record = { id, kind, runId, measuredAt: new Date().toISOString(), machine: machine(), ...figures };
  writeFileSync(resolve(resultsDir, `${id}.json`), `${JSON.stringify(record, null, 2)}\n`);
}

/** Saves a scenario's figures for `pnpm reliability:report`, which renders docs/reliability.md from its own run. */
export function recordScenario(id: string, figures: ScenarioFigures): void {
  save(id, 'scenario', figures);
}

/** What an abuse test records for the report's "Abuse" section. */
export interface AbuseFigures {
  title: string;
  /** The test file, from the repository root. */
  test: string;
  /** What the attack did, from the test's own measurements. */
  findings: string[];
}

/** Saves an abuse test's figures for the same report. */
export function recordAbuse(id: string, figures: AbuseFigures): void {
  save(id, 'abuse', figures);
}

/** Saves a bad-input test's figures for the same report. */
export function recordBadInput(id: string, figures: BadInputFigures): void {
  save(id, 'bad-input', figures);
}
