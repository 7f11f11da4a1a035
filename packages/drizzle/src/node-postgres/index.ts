/**
 * `@db-safeguards/drizzle/node-postgres`: drizzle-orm on node-postgres (`pg` Pool or Client) under the
 * safeguards. The public API is this list.
 */
export { drizzle, type SafeguardedNodePgConfig } from './driver.js';
export { migrate } from './migrator.js';
export { nodePostgresRange } from './pg-internals.js';
export { isSafeguardedClient, type SafeguardPgClientOptions, safeguardClient } from './session.js';
