/**
 * `@db-safeguards/drizzle/pglite`: drizzle-orm on PGlite under the safeguards. The public API is this list.
 */
export { drizzle, type SafeguardedPgliteConfig } from './driver.js';
export { migrate } from './migrator.js';
export { isSafeguardedClient, pgliteRange, safeguardClient } from './session.js';
