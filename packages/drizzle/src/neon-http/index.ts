/**
 * `@db-safeguards/drizzle/neon-http`: drizzle-orm on Neon's HTTP driver (`neon(url)`) under the
 * safeguards. The public API is this list.
 */
export { drizzle, type SafeguardedNeonHttpConfig } from './driver.js';
export { migrate } from './migrator.js';
export { isSafeguardedClient, neonHttpRange, safeguardClient } from './session.js';
