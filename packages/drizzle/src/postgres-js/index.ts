/**
 * `@db-safeguards/drizzle/postgres-js`: drizzle-orm on postgres.js (3.4.x and 4.x) under the safeguards.
 * The public API is this list.
 */
export { drizzle, type SafeguardedPostgresJsConfig } from './driver.js';
export { migrate } from './migrator.js';
export { postgresJsRange } from './query-internals.js';
export { isSafeguardedClient, type SafeguardClientOptions, safeguardClient } from './session.js';
