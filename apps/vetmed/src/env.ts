/**
 * The app's configuration, read from the environment. This is the ONLY file of the app that reads
 * `process.env`: everything else receives the typed {@link AppConfig}.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type LoadMarks,
  type LoadOptions,
  SafeguardsConfigError,
  type SafeguardsOptions,
  safeguardsOptionsFromEnv,
} from '@db-safeguards/core';
import { isProxyRule, type TrustProxy } from '@db-safeguards/trpc';
import { z } from 'zod';
import {
  type DatabaseConfig,
  DatabaseConfigError,
  defaultPgliteDataDir,
  defaultStatementTimeoutMs,
  driverNames,
  inMemoryPglite,
  redactUrl,
  resolveDatabaseConfig,
} from './db/database-config.js';
import { defaultMaxStaleMs } from './degradation/stale-reads.js';
import { type ConnectionLimitCheck, connectionLimitChecks } from './server/connection-limit-check.js';
import { defaultHealthCacheMs } from './server/health-cache.js';
import { parseLoadMarks } from './server/load-marks.js';
import { withTokenPolicy } from './trpc/token-policy.js';

type Env = Record<string, string | undefined>;

export const nodeEnvironments = ['development', 'test', 'production'] as const;
export type NodeEnvironment = (typeof nodeEnvironments)[number];
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

/** Everything the app is configured with. */
export interface AppConfig {
  nodeEnv: NodeEnvironment;
  isProduction: boolean;
  logLevel: LogLevel;
  server: {
    port: number;
    host: string;
    /** Bearer token of the admin endpoints; undefined: admin endpoints are off. */
    adminToken: string | undefined;
    /** Bearer token of `/metrics` (the admin token works too); with neither, `/metrics` is off. */
    metricsToken: string | undefined;
    requestTimeoutMs: number;
    bodyLimitBytes: number;
    shutdownDrainMs: number;
    /** Which proxies may set X-Forwarded-For (the rate-limit key is the client IP). Default: none. */
    trustProxy: TrustProxy;
    /** How long one health report (one database probe) answers every `/api/health`. */
    healthCacheMs: number;
    /** Oldest last good answer a degradable read may serve while the database is unavailable; 0: none. */
    staleReadMaxAgeMs: number;
    /** Refused requests logged in full a second for each kind of refusal; the rest are counted. */
    refusalLinesPerSecond: number;
  };
  /** Seed the demo household on start: `auto` does it on the embedded PGlite database only. */
  seedDemo: boolean;
  /** For `createDatabase({ config: config.database, safeguards })`. */
  database: DatabaseConfig;
  /**
   * At start, compare the budget with the role's CONNECTION LIMIT and max_connections: `warn` (a
   * typed warning in the log), `error` (refuse to start) or `off`. Env CONNECTION_LIMIT_CHECK.
   */
  connectionLimitCheck: ConnectionLimitCheck;
  /**
   * REDIS_URL switches on one connection budget and one set of rate limits for every instance, and
   * the durable queue where dose recordings wait while the database is unavailable (deferred/);
   * undefined: each instance keeps its own budget and limits, and a recording during an outage fails.
   */
  redis:
    | {
        url: string;
        /** Every key the app writes starts with it (REDIS_KEY_PREFIX, default `vetmed:`). */
        keyPrefix: string;
        /** Connections all instances share (SHARED_BUDGET_CAPACITY); default: the budget. */
        capacity: number | undefined;
      }
    | undefined;
  /**
   * For `createSafeguards(config.safeguards)`: QUEUE_MAX_CONNECTIONS, CIRCUIT_*, DB_*, RATE_LIMIT_*,
   * and always the app's own `token` policy (its limit from RATE_LIMIT_TOKEN_MAX, default 20); the
   * load marks (LOAD_*) in `load`, without a sampler: `startVetmed` adds one when `loadShedding`.
   */
  safeguards: SafeguardsOptions;
  /**
   * Refuse new calls by priority while this process's event loop lags or memory is past its marks
   * (LOAD_SHEDDING). `auto`: on, except on the embedded PGlite database, whose queries run on the
   * event loop itself, so lag there is the database working, which the connection budget governs.
   */
  loadShedding: boolean;
  /** The event-loop probe's interval in ms (LOAD_PROBE_RESOLUTION_MS, default 10). */
  loadProbeResolutionMs: number;
  /**
   * Without REDIS_URL, hold at most this instance's share of the role's connections, the instances
   * being those with connections open, seen in `pg_stat_activity` every 2 s (PEER_SHARE, default on;
   * off on PGlite and behind a `-pooler` URL, where there is nothing to see).
   */
  peerShare: boolean;
}

export interface EnvProblem {
  variable: string;
  /** As given, except that secrets are hidden and URL passwords masked. */
  value: string;
  message: string;
}

/** One or more variables cannot be used; the message has one line per variable, naming it and its value. */
export class EnvError extends Error {
  override readonly name = 'EnvError';

  constructor(readonly problems: readonly EnvProblem[]) {
    super(problems.map((problem) => problem.message).join('\n'));
  }
}

const appRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(min).max(max));

interface Field<T> {
  schema: z.ZodType<T, string>;
  expected: string;
  fallback: T;
  /** Hide the value in error messages (tokens) or mask its password (URLs). */
  display?: (value: string) => string;
}

function field<T>(
  schema: z.ZodType<T, string>,
  expected: string,
  fallback: T,
  display?: Field<T>['display'],
) {
  return { schema, expected, fallback, display } satisfies Field<T>;
}

const hidden = () => '(hidden)';

/** Load marks (`LOW=50,NORMAL=200,HIGH=1000` or `off`), each number times `scale`; `fallback` as written. */
const loadMarks = (scale: number, fallback: string) =>
  field(
    z.string().transform((value, context): LoadMarks | false => {
      const marks = parseLoadMarks(value, scale);
      if (marks !== undefined) return marks;
      context.addIssue({ code: 'custom', message: 'bad load marks' });
      return z.NEVER;
    }),
    'off, or PRIORITY=number pairs separated by commas (BATCH, LOW, NORMAL, HIGH; numbers above 0 that do not fall as priority rises), e.g. LOW=50,NORMAL=200,HIGH=1000',
    parseLoadMarks(fallback, scale) as LoadMarks | false,
  );

/** An optional secret (admin or metrics bearer token): long enough not to be guessed, never logged. */
const secretToken = () =>
  field(
    z
      .string()
      .min(16)
      .transform((value): string | undefined => value),
    'a token of at least 16 characters',
    undefined,
    hidden,
  );

const fields = {
  NODE_ENV: field(z.enum(nodeEnvironments), nodeEnvironments.join(', '), 'development' as NodeEnvironment),
  LOG_LEVEL: field(z.enum(logLevels), logLevels.join(', '), 'info' as LogLevel),
  PORT: field(integer(0, 65_535), 'an integer between 0 and 65535', 3000),
  HOST: field(z.string().min(1), 'a host name or address', '127.0.0.1'),
  ADMIN_TOKEN: secretToken(),
  METRICS_TOKEN: secretToken(),
  REQUEST_TIMEOUT_MS: field(integer(1, 600_000), 'an integer between 1 and 600000', 10_000),
  BODY_LIMIT_BYTES: field(integer(1, 100 * 1024 * 1024), 'an integer between 1 and 104857600', 1024 * 1024),
  SHUTDOWN_DRAIN_MS: field(integer(0, 600_000), 'an integer between 0 and 600000', 10_000),
  STALE_READS_MAX_AGE_MS: field(
    integer(0, 86_400_000),
    'an integer between 0 (off) and 86400000',
    defaultMaxStaleMs,
  ),
  HEALTH_CACHE_MS: field(integer(0, 60_000), 'an integer between 0 and 60000', defaultHealthCacheMs),
  LOG_REFUSALS_PER_SECOND: field(integer(0, 1_000_000), 'an integer between 0 and 1000000', 5),
  RATE_LIMIT_TOKEN_MAX: field(
    integer(1).transform((value): number | undefined => value),
    'an integer >= 1',
    undefined,
  ),
  DB_DRIVER: field(
    z.enum(driverNames).transform((value): (typeof driverNames)[number] | undefined => value),
    driverNames.join(', '),
    undefined,
  ),
  DATABASE_URL: field(
    z.string().transform((value): string | undefined => value),
    'a postgres:// URL',
    undefined,
    redactUrl,
  ),
  REDIS_URL: field(
    z
      .string()
      .regex(/^rediss?:\/\//)
      .transform((value): string | undefined => value),
    'a redis:// or rediss:// URL',
    undefined,
    redactUrl,
  ),
  DATABASE_URL_UNPOOLED: field(
    z.string().transform((value): string | undefined => value),
    'a postgres:// URL',
    undefined,
    redactUrl,
  ),
  PGLITE_DATA_DIR: field(
    z.string().transform((value) => (value === inMemoryPglite ? value : resolve(appRoot, value))),
    `a directory (relative to the app) or ${inMemoryPglite}`,
    defaultPgliteDataDir,
  ),
  DB_STATEMENT_TIMEOUT_MS: field(
    integer(0, 3_600_000),
    'an integer between 0 (off) and 3600000',
    defaultStatementTimeoutMs,
  ),
  CONNECTION_LIMIT_CHECK: field(
    z.enum(connectionLimitChecks),
    connectionLimitChecks.join(', '),
    'warn' as ConnectionLimitCheck,
  ),
  LOAD_SHEDDING: field(z.enum(['auto', 'on', 'off']), 'auto, on or off', 'auto' as 'auto' | 'on' | 'off'),
  PEER_SHARE: field(z.enum(['on', 'off']), 'on or off', 'on' as 'on' | 'off'),
  LOAD_EVENT_LOOP_DELAY_MS: loadMarks(1, 'LOW=50,NORMAL=200,HIGH=1000'),
  LOAD_EVENT_LOOP_UTILIZATION: loadMarks(1, 'LOW=0.95'),
  // Readings ten times a second: the utilisation target halves NORMAL's share within 100 ms of a
  // burst that saturates the loop (measured: 250 ms let a burst's backlog delay HIGH calls 0.9 s).
  LOAD_SAMPLE_INTERVAL_MS: field(integer(10, 60_000), 'an integer between 10 and 60000', 100),
  // The event-loop probe's timer: the finest lag it sees, and a wake-up of the process every so often.
  LOAD_PROBE_RESOLUTION_MS: field(integer(1, 1000), 'an integer between 1 and 1000', 10),
  LOAD_UTILIZATION_TARGET: field(
    z.string().transform((value, context): number | false => {
      if (value === 'off') return false;
      const target = Number(value);
      if (/^(0?\.\d+|1(\.0+)?)$/.test(value) && target >= 0.1 && target <= 1) return target;
      context.addIssue({ code: 'custom', message: 'bad utilisation target' });
      return z.NEVER;
    }),
    'off, or a share of the event loop between 0.1 and 1, e.g. 0.9',
    0.9 as number | false,
  ),
  // A loop busy past the target but turning within this many ms still reads new requests promptly.
  LOAD_UTILIZATION_DELAY_MS: field(integer(0, 60_000), 'an integer between 0 and 60000', 10),
  // Seed 002's memory monitoring alerted past 1 GB: here the heap sheds before it gets there.
  LOAD_HEAP_USED_MB: loadMarks(1024 * 1024, 'LOW=768,NORMAL=896,HIGH=1024'),
  // Off by default: PGlite's database memory counts in the process's RSS.
  LOAD_RSS_MB: loadMarks(1024 * 1024, 'off'),
  REDIS_KEY_PREFIX: field(
    z.string().regex(/^[^{}\s]{1,100}$/),
    'a key prefix without braces or spaces',
    'vetmed:',
  ),
  SHARED_BUDGET_CAPACITY: field(
    integer(1, 1_000_000).transform((value): number | undefined => value),
    'an integer between 1 and 1000000',
    undefined,
  ),
  SEED_DEMO: field(
    z.enum(['auto', 'true', 'false']),
    'auto, true or false',
    'auto' as 'auto' | 'true' | 'false',
  ),
  TRUST_PROXY: field(
    z.string().transform((value, context): TrustProxy => {
      if (value === 'false') return false;
      if (value === 'true') return true;
      if (/^\d{1,2}$/.test(value)) return Number(value);
      const addresses = value.split(',').map((part) => part.trim());
      // Each entry must be an address or CIDR range clientIp can match: a typo would otherwise
      // silently trust nobody (or, worse, be read as a number of hops).
      if (addresses.every((part) => isProxyRule(part))) return addresses;
      context.addIssue({ code: 'custom', message: 'bad TRUST_PROXY' });
      return z.NEVER;
    }),
    'false, true, a number of proxy hops, or a comma-separated list of proxy addresses or CIDR ranges',
    false as TrustProxy,
  ),
} as const;

type Values = { [K in keyof typeof fields]: (typeof fields)[K]['fallback'] };

const databaseVariables: Record<keyof DatabaseConfig, keyof typeof fields> = {
  driver: 'DB_DRIVER',
  url: 'DATABASE_URL',
  unpooledUrl: 'DATABASE_URL_UNPOOLED',
  pgliteDataDir: 'PGLITE_DATA_DIR',
  statementTimeoutMs: 'DB_STATEMENT_TIMEOUT_MS',
};

/**
 * Reads and validates the configuration. Unset or empty variables take their defaults; the
 * safeguards' own variables are validated here too (by the core's `safeguardsOptionsFromEnv`), so a
 * bad value stops the app at start.
 *
 * @throws EnvError listing every invalid variable with its value (secrets hidden, URL passwords masked).
 */
export function loadEnv(env: Env = process.env): AppConfig {
  const problems: EnvProblem[] = [];
  const problem = (variable: string, value: string, expected: string) =>
    problems.push({
      variable,
      value,
      message: `Invalid environment variable ${variable}="${value}": expected ${expected}`,
    });

  const values = {} as Record<string, unknown>;
  for (const [variable, spec] of Object.entries(fields) as [keyof typeof fields, Field<unknown>][]) {
    const raw = env[variable]?.trim();
    if (raw === undefined || raw === '') {
      values[variable] = spec.fallback;
      continue;
    }
    const parsed = spec.schema.safeParse(raw);
    if (parsed.success) values[variable] = parsed.data;
    else problem(variable, spec.display?.(raw) ?? raw, spec.expected);
  }
  const v = values as Values;

  let safeguards: SafeguardsOptions = {};
  try {
    safeguards = safeguardsOptionsFromEnv(env);
  } catch (error) {
    if (!(error instanceof SafeguardsConfigError)) throw error;
    problems.push({ variable: error.variable, value: error.value, message: error.message });
  }

  // The one place the app's own policy joins the core's: every server needs it (trpc/init.ts checks).
  safeguards = withTokenPolicy(safeguards, v.RATE_LIMIT_TOKEN_MAX);
  const load: Partial<LoadOptions> = {
    eventLoopDelayMs: v.LOAD_EVENT_LOOP_DELAY_MS,
    eventLoopUtilization: v.LOAD_EVENT_LOOP_UTILIZATION,
    heapUsedBytes: v.LOAD_HEAP_USED_MB,
    rssBytes: v.LOAD_RSS_MB,
    utilizationTarget: v.LOAD_UTILIZATION_TARGET,
    utilizationDelayMs: v.LOAD_UTILIZATION_DELAY_MS,
    sampleIntervalMs: v.LOAD_SAMPLE_INTERVAL_MS,
    // A mark sheds once passed for a second (the readings are shorter than that: a GC pause or a
    // stall alone must not shed).
    sustainedReadings: Math.min(100, Math.max(1, Math.round(1000 / v.LOAD_SAMPLE_INTERVAL_MS))),
  };
  safeguards = { ...safeguards, load };

  let database: DatabaseConfig | undefined;
  if (problems.length === 0) {
    try {
      database = resolveDatabaseConfig({
        driver: v.DB_DRIVER,
        url: v.DATABASE_URL,
        unpooledUrl: v.DATABASE_URL_UNPOOLED,
        pgliteDataDir: v.PGLITE_DATA_DIR,
        statementTimeoutMs: v.DB_STATEMENT_TIMEOUT_MS,
      });
    } catch (error) {
      if (!(error instanceof DatabaseConfigError)) throw error;
      problem(databaseVariables[error.field], error.value, error.expected);
    }
  }
  if (problems.length > 0 || !database) throw new EnvError(problems);

  return {
    nodeEnv: v.NODE_ENV,
    isProduction: v.NODE_ENV === 'production',
    logLevel: v.LOG_LEVEL,
    server: {
      port: v.PORT,
      host: v.HOST,
      adminToken: v.ADMIN_TOKEN,
      metricsToken: v.METRICS_TOKEN,
      requestTimeoutMs: v.REQUEST_TIMEOUT_MS,
      bodyLimitBytes: v.BODY_LIMIT_BYTES,
      shutdownDrainMs: v.SHUTDOWN_DRAIN_MS,
      trustProxy: v.TRUST_PROXY,
      healthCacheMs: v.HEALTH_CACHE_MS,
      staleReadMaxAgeMs: v.STALE_READS_MAX_AGE_MS,
      refusalLinesPerSecond: v.LOG_REFUSALS_PER_SECOND,
    },
    // `auto` never seeds in production: the demo account's password is published in the README.
    seedDemo:
      v.SEED_DEMO === 'true' ||
      (v.SEED_DEMO === 'auto' && database.driver === 'pglite' && v.NODE_ENV !== 'production'),
    loadShedding: v.LOAD_SHEDDING === 'on' || (v.LOAD_SHEDDING === 'auto' && database.driver !== 'pglite'),
    loadProbeResolutionMs: v.LOAD_PROBE_RESOLUTION_MS,
    peerShare: v.PEER_SHARE === 'on',
    database,
    connectionLimitCheck: v.CONNECTION_LIMIT_CHECK,
    redis:
      v.REDIS_URL === undefined
        ? undefined
        : { url: v.REDIS_URL, keyPrefix: v.REDIS_KEY_PREFIX, capacity: v.SHARED_BUDGET_CAPACITY },
    safeguards,
  };
}
