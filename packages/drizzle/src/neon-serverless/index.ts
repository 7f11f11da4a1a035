/**
 * `@db-safeguards/drizzle/neon-serverless`: drizzle-orm on `@neondatabase/serverless`'s WebSocket Pool
 * under the safeguards. The public API is this list.
 */

export type { SafeguardPgClientOptions } from '../node-postgres/session.js';
export { drizzle, type SafeguardedNeonServerlessConfig } from './driver.js';
export { migrate } from './migrator.js';
export { isSafeguardedClient, neonServerlessRange, safeguardClient } from './session.js';
