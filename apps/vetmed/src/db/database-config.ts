import { fileURLToPath } from 'node:url';

export const driverNames = ['pglite', 'postgres', 'neon'] as const;
/** `pglite`: embedded, in-process (the zero-setup default); `postgres`: postgres.js; `neon`: Neon's WebSocket Pool. */
export type DriverName = (typeof driverNames)[number];

/** Where PGlite keeps its files unless told otherwise: `apps/vetmed/.data/pglite` (git-ignored). */
export const defaultPgliteDataDir = fileURLToPath(new URL('../../.data/pglite', import.meta.url));

/** Server-side statement timeout unless told otherwise (see {@link DatabaseConfig.statementTimeoutMs}). */
export const defaultStatementTimeoutMs = 30_000;

/** PGlite data directory that keeps everything in memory (tests). */
export const inMemoryPglite = 'memory://';

/** How to reach the database, resolved (see {@link resolveDatabaseConfig}). */
export interface DatabaseConfig {
  driver: DriverName;
  /** Connection URL for `postgres` and `neon`; undefined for `pglite`. */
  url: string | undefined;
  /**
   * Direct (non-pooled) URL used by `migrate()`, whose session-level advisory lock a PgBouncer
   * endpoint in transaction mode cannot hold. Default: `url`, or for a Neon `-pooler` host the same
   * URL on the endpoint's direct host (`-pooler` removed). Undefined: migrations use `url`.
   */
  unpooledUrl: string | undefined;
  /** PGlite's directory, or `memory://`. */
  pgliteDataDir: string;
  /**
   * Server-side backstop for a statement's run time in ms (0: none); the deadline's own client-side
   * cancel normally comes first. Sent as a startup parameter where the server accepts one; on a pooled
   * endpoint (`-pooler`, PgBouncer) applied with `SET LOCAL` at the start of each transaction instead.
   */
  statementTimeoutMs: number;
}

/** What a caller (tests, scripts) may pass: every field optional, resolved like the environment. */
export type DatabaseConfigInput = Partial<DatabaseConfig>;

/**
 * A database setting that cannot be used; `field` names it (env.ts maps it to the variable), `value`
 * is the value given and `expected` describes what would do.
 */
export class DatabaseConfigError extends TypeError {
  override readonly name = 'DatabaseConfigError';

  constructor(
    readonly field: keyof DatabaseConfig,
    readonly value: string,
    readonly expected: string,
  ) {
    super(`Invalid database setting ${field}="${value}": expected ${expected}`);
  }
}

/** The URL with its password replaced, for error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
  }
}

function parseDatabaseUrl(field: 'url' | 'unpooledUrl', url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DatabaseConfigError(field, redactUrl(url), 'a postgres:// or postgresql:// URL');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
    throw new DatabaseConfigError(field, redactUrl(url), 'a postgres:// or postgresql:// URL');
  if (!parsed.hostname) throw new DatabaseConfigError(field, redactUrl(url), 'a URL with a host name');
  return parsed;
}

/** A Neon host (`*.neon.tech`). */
export function isNeonUrl(url: string): boolean {
  return /(?:^|\.)neon\.tech$/i.test(new URL(url).hostname);
}

/** A PgBouncer endpoint that refuses startup parameters (Neon's `-pooler` hosts). */
export function isPooledUrl(url: string): boolean {
  return new URL(url).hostname.includes('-pooler');
}

/**
 * The direct URL of a Neon pooled (`-pooler`) URL: the same URL with `-pooler` removed from the
 * endpoint's host name (`ep-x-123-pooler.region.aws.neon.tech` → `ep-x-123.region.aws.neon.tech`),
 * which is how Neon names the two hosts of one endpoint. Undefined when `url` is not one.
 */
export function directNeonUrl(url: string): string | undefined {
  const parsed = new URL(url);
  const [endpoint, ...domain] = parsed.hostname.split('.');
  if (!isNeonUrl(url) || !endpoint?.endsWith('-pooler') || endpoint === '-pooler') return undefined;
  parsed.hostname = [endpoint.slice(0, -'-pooler'.length), ...domain].join('.');
  return parsed.toString();
}

/** The URL `migrate()` uses, or a DatabaseConfigError when only a pooled one is known. */
function migrationUrlOf(url: string, unpooledUrl: string | undefined): string | undefined {
  const why =
    'migrations take a session-level advisory lock, which a PgBouncer (-pooler) endpoint in transaction mode cannot hold';
  if (unpooledUrl !== undefined) {
    if (isPooledUrl(unpooledUrl))
      throw new DatabaseConfigError(
        'unpooledUrl',
        redactUrl(unpooledUrl),
        `a direct (not -pooler) URL: ${why}`,
      );
    return unpooledUrl;
  }
  if (!isPooledUrl(url)) return undefined;
  const direct = directNeonUrl(url);
  if (direct === undefined)
    throw new DatabaseConfigError(
      'unpooledUrl',
      '',
      `a direct URL for migrations, because DATABASE_URL is a pooled (-pooler) endpoint: ${why}`,
    );
  return direct;
}

/**
 * Fills in defaults and picks the driver: an explicit `driver` wins; else no URL → `pglite`; a
 * `*.neon.tech` host → `neon`; any other URL → `postgres`. For a pooled (`-pooler`) URL without an
 * unpooled one, migrations go to the Neon endpoint's direct host (see {@link directNeonUrl}); any other
 * pooled host needs `unpooledUrl`. Throws {@link DatabaseConfigError}.
 */
export function resolveDatabaseConfig(input: DatabaseConfigInput = {}): DatabaseConfig {
  const url = input.url?.trim() || undefined;
  const unpooledUrl = input.unpooledUrl?.trim() || undefined;
  if (url) parseDatabaseUrl('url', url);
  if (unpooledUrl) parseDatabaseUrl('unpooledUrl', unpooledUrl);
  if (input.driver !== undefined && !driverNames.includes(input.driver))
    throw new DatabaseConfigError('driver', String(input.driver), `one of ${driverNames.join(', ')}`);
  const driver: DriverName = input.driver ?? (!url ? 'pglite' : isNeonUrl(url) ? 'neon' : 'postgres');
  if (driver !== 'pglite' && !url)
    throw new DatabaseConfigError('url', '', `a database URL for the ${driver} driver`);
  const statementTimeoutMs = input.statementTimeoutMs ?? defaultStatementTimeoutMs;
  if (!Number.isSafeInteger(statementTimeoutMs) || statementTimeoutMs < 0)
    throw new DatabaseConfigError('statementTimeoutMs', String(statementTimeoutMs), 'an integer >= 0');
  const pgliteDataDir = input.pgliteDataDir?.trim() || defaultPgliteDataDir;
  return {
    driver,
    url: driver === 'pglite' ? undefined : url,
    unpooledUrl: driver === 'pglite' || !url ? undefined : migrationUrlOf(url, unpooledUrl),
    pgliteDataDir,
    statementTimeoutMs,
  };
}
