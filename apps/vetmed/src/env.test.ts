import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultPgliteDataDir } from './db/database-config.js';
import { EnvError, loadEnv } from './env.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadEnv(env);
  } catch (error) {
    if (error instanceof EnvError) return error.problems.map((problem) => problem.message);
    throw error;
  }
  throw new Error('expected loadEnv to throw');
}

describe('loadEnv', () => {
  it('defaults to embedded PGlite in the app data directory', () => {
    const config = loadEnv({});
    expect(config.database).toEqual({
      driver: 'pglite',
      url: undefined,
      unpooledUrl: undefined,
      pgliteDataDir: defaultPgliteDataDir,
      statementTimeoutMs: 30_000,
    });
    // The app's own directory, wherever it is (apps/vetmed here, anywhere in a copy).
    expect(defaultPgliteDataDir).toBe(fileURLToPath(new URL('../.data/pglite', import.meta.url)));
    expect(config.server).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      adminToken: undefined,
      metricsToken: undefined,
      healthCacheMs: 1000,
    });
    expect(config.nodeEnv).toBe('development');
    // Nothing from the core's variables; the app's own `token` and `signin` policies at their
    // defaults; the load marks.
    expect(config.safeguards).toEqual({
      rateLimits: {
        policies: { signin: { limit: 5, windowMs: 900_000 }, token: { limit: 20, windowMs: 900_000 } },
      },
      load: expect.objectContaining({ eventLoopDelayMs: { LOW: 50, NORMAL: 200, HIGH: 1000 } }),
    });
  });

  it('picks postgres.js for a PostgreSQL URL and Neon for a neon.tech host', () => {
    expect(loadEnv({ DATABASE_URL: 'postgres://app:pw@db.internal:5433/vetmed' }).database.driver).toBe(
      'postgres',
    );
    const neon = loadEnv({
      DATABASE_URL:
        'postgresql://app:pw@ep-cool-123-pooler.eu-central-1.aws.neon.tech/vetmed?sslmode=require',
      DATABASE_URL_UNPOOLED:
        'postgresql://app:pw@ep-cool-123.eu-central-1.aws.neon.tech/vetmed?sslmode=require',
    }).database;
    expect(neon.driver).toBe('neon');
    expect(neon.unpooledUrl).toContain('ep-cool-123.eu-central-1');
    expect(
      problemsOf({ DATABASE_URL: 'postgres://app:pw@bouncer-pooler.internal/vetmed', DB_DRIVER: 'postgres' }),
    ).toEqual([
      'Invalid environment variable DATABASE_URL_UNPOOLED="": expected a direct URL for migrations, because DATABASE_URL is a pooled (-pooler) endpoint: migrations take a session-level advisory lock, which a PgBouncer (-pooler) endpoint in transaction mode cannot hold',
    ]);
    expect(loadEnv({ DATABASE_URL: 'postgres://a@localhost/db', DB_DRIVER: 'neon' }).database.driver).toBe(
      'neon',
    );
  });

  it('reads the server settings and the safeguards variables', () => {
    const config = loadEnv({
      PORT: '8080',
      HOST: '0.0.0.0',
      ADMIN_TOKEN: 'a-long-enough-admin-token',
      METRICS_TOKEN: 'a-long-enough-scrape-token',
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      REQUEST_TIMEOUT_MS: '5000',
      BODY_LIMIT_BYTES: '65536',
      SHUTDOWN_DRAIN_MS: '0',
      HEALTH_CACHE_MS: '250',
      LOG_REFUSALS_PER_SECOND: '20',
      QUEUE_MAX_CONNECTIONS: '5',
      PGLITE_DATA_DIR: 'memory://',
      TRUST_PROXY: '10.0.0.0/8, 192.168.1.1',
    });
    expect(config.server).toEqual({
      port: 8080,
      host: '0.0.0.0',
      adminToken: 'a-long-enough-admin-token',
      metricsToken: 'a-long-enough-scrape-token',
      requestTimeoutMs: 5000,
      bodyLimitBytes: 65_536,
      shutdownDrainMs: 0,
      trustProxy: ['10.0.0.0/8', '192.168.1.1'],
      healthCacheMs: 250,
      staleReadMaxAgeMs: 1_800_000,
      refusalLinesPerSecond: 20,
    });
    // SEED_DEMO=auto never seeds the published demo password in production (issue 11).
    expect(config.seedDemo).toBe(false);
    expect(config.isProduction).toBe(true);
    expect(config.logLevel).toBe('warn');
    expect(config.safeguards.queue?.maxConcurrentConnections).toBe(5);
    // The app's own policy is always there, at its default unless RATE_LIMIT_TOKEN_MAX says otherwise.
    expect(config.safeguards.rateLimits?.policies).toEqual({
      signin: { limit: 5, windowMs: 900_000 },
      token: { limit: 20, windowMs: 900_000 },
    });
    expect(
      loadEnv({ RATE_LIMIT_TOKEN_MAX: '50', RATE_LIMIT_AUTH_MAX: '7' }).safeguards.rateLimits?.policies,
    ).toEqual({
      auth: { limit: 7, windowMs: 900_000 },
      signin: { limit: 5, windowMs: 900_000 },
      token: { limit: 50, windowMs: 900_000 },
    });
    expect(config.database.pgliteDataDir).toBe('memory://');
  });

  it('seeds the demo data by default only on the embedded database; trusts no proxy by default', () => {
    expect(loadEnv({ DATABASE_URL: 'postgres://app:pw@db.example.com/app' })).toMatchObject({
      seedDemo: false,
      server: { trustProxy: false },
    });
    expect(loadEnv({ SEED_DEMO: 'false' }).seedDemo).toBe(false);
    expect(loadEnv({ TRUST_PROXY: '1' }).server.trustProxy).toBe(1);
    expect(() => loadEnv({ TRUST_PROXY: 'everyone' })).toThrow(/TRUST_PROXY="everyone"/);
  });

  it('REDIS_URL switches on the shared budget and rate limits; without it there is none', () => {
    expect(loadEnv({}).redis).toBeUndefined();
    expect(loadEnv({ REDIS_URL: 'redis://127.0.0.1:6390', SHARED_BUDGET_CAPACITY: '16' }).redis).toEqual({
      url: 'redis://127.0.0.1:6390',
      keyPrefix: 'vetmed:',
      capacity: 16,
    });
    expect(() => loadEnv({ REDIS_URL: 'http://example.com' })).toThrow(/REDIS_URL="http:\/\/example.com\/?"/);
    expect(() => loadEnv({ REDIS_KEY_PREFIX: 'a b' })).toThrow(/REDIS_KEY_PREFIX/);
  });

  it('checks the budget against the database limit at start: warn by default, error or off on request', () => {
    expect(loadEnv({}).connectionLimitCheck).toBe('warn');
    expect(loadEnv({ CONNECTION_LIMIT_CHECK: 'error' }).connectionLimitCheck).toBe('error');
    expect(() => loadEnv({ CONNECTION_LIMIT_CHECK: 'loud' })).toThrow(/CONNECTION_LIMIT_CHECK="loud"/);
  });

  it('sheds load by default except on the embedded database, with marks from LOAD_* (seed 002: heap under 1 GB)', () => {
    expect(loadEnv({}).loadShedding).toBe(false);
    expect(loadEnv({ DATABASE_URL: 'postgres://app:pw@db.example.com/app' }).loadShedding).toBe(true);
    expect(loadEnv({ LOAD_SHEDDING: 'on' }).loadShedding).toBe(true);
    expect(
      loadEnv({ DATABASE_URL: 'postgres://app:pw@db.example.com/app', LOAD_SHEDDING: 'off' }).loadShedding,
    ).toBe(false);
    const mb = 1024 * 1024;
    expect(loadEnv({}).safeguards.load).toEqual({
      eventLoopDelayMs: { LOW: 50, NORMAL: 200, HIGH: 1000 },
      eventLoopUtilization: { LOW: 0.95 },
      heapUsedBytes: { LOW: 768 * mb, NORMAL: 896 * mb, HIGH: 1024 * mb },
      rssBytes: false,
      utilizationTarget: 0.9,
      sampleIntervalMs: 100,
      sustainedReadings: 10,
      utilizationDelayMs: 10,
    });
    expect(
      loadEnv({ LOAD_EVENT_LOOP_DELAY_MS: 'off', LOAD_RSS_MB: 'LOW=1500,HIGH=2000' }).safeguards.load,
    ).toMatchObject({ eventLoopDelayMs: false, rssBytes: { LOW: 1500 * mb, HIGH: 2000 * mb } });
    expect(loadEnv({ LOAD_UTILIZATION_TARGET: '0.8' }).safeguards.load?.utilizationTarget).toBe(0.8);
    expect(loadEnv({ LOAD_UTILIZATION_TARGET: 'off' }).safeguards.load?.utilizationTarget).toBe(false);
    expect(loadEnv({}).safeguards.load?.utilizationDelayMs).toBe(10);
    expect(loadEnv({ LOAD_UTILIZATION_DELAY_MS: '0' }).safeguards.load?.utilizationDelayMs).toBe(0);
    expect(problemsOf({ LOAD_UTILIZATION_TARGET: '90%' })).toEqual([
      'Invalid environment variable LOAD_UTILIZATION_TARGET="90%": expected off, or a share of the event loop between 0.1 and 1, e.g. 0.9',
    ]);
    expect(problemsOf({ LOAD_SHEDDING: 'maybe', LOAD_EVENT_LOOP_DELAY_MS: 'NORMAL=200,LOW=500' })).toEqual([
      'Invalid environment variable LOAD_SHEDDING="maybe": expected auto, on or off',
      'Invalid environment variable LOAD_EVENT_LOOP_DELAY_MS="NORMAL=200,LOW=500": expected off, or PRIORITY=number pairs separated by commas (BATCH, LOW, NORMAL, HIGH; numbers above 0 that do not fall as priority rises), e.g. LOW=50,NORMAL=200,HIGH=1000',
    ]);
  });

  it('names every invalid variable and its value, hiding secrets', () => {
    expect(
      problemsOf({
        PORT: 'eighty',
        DB_DRIVER: 'mysql',
        QUEUE_MAX_CONNECTIONS: 'abc',
        ADMIN_TOKEN: 'short',
        METRICS_TOKEN: 'scrape',
        REQUEST_TIMEOUT_MS: '-1',
      }),
    ).toEqual([
      'Invalid environment variable PORT="eighty": expected an integer between 0 and 65535',
      'Invalid environment variable ADMIN_TOKEN="(hidden)": expected a token of at least 16 characters',
      'Invalid environment variable METRICS_TOKEN="(hidden)": expected a token of at least 16 characters',
      'Invalid environment variable REQUEST_TIMEOUT_MS="-1": expected an integer between 1 and 600000',
      'Invalid environment variable DB_DRIVER="mysql": expected pglite, postgres, neon',
      'Invalid environment variable QUEUE_MAX_CONNECTIONS="abc": expected an integer >= 1',
    ]);
  });

  it('rejects a URL that is not PostgreSQL without showing its password', () => {
    expect(problemsOf({ DATABASE_URL: 'mysql://root:secret@db/app' })).toEqual([
      'Invalid environment variable DATABASE_URL="mysql://root:***@db/app": expected a postgres:// or postgresql:// URL',
    ]);
    expect(problemsOf({ DB_DRIVER: 'postgres' })).toEqual([
      'Invalid environment variable DATABASE_URL="": expected a database URL for the postgres driver',
    ]);
  });
});
