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
  /** Direct (non-pooled) URL used by `migrate()`; default `url`. */
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
 * Fills in defaults and picks the driver: an explicit `driver` wins; else no URL → `pglite`; a
 * `*.neon.tech` host → `neon`; any other URL → `postgres`. Throws {@link DatabaseConfigError}.
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
    unpooledUrl: driver === 'pglite' ? undefined : unpooledUrl,
    pgliteDataDir,
    statementTimeoutMs,
  };
}
