import type { Safeguards } from '@db-safeguards/core';
import {
  isSafeguardedClient,
  type SafeguardPgClientOptions,
  safeguardClient as safeguardPgCompatibleClient,
} from '../node-postgres/session.js';

/** The `@neondatabase/serverless` versions this package is tested with. */
export const neonServerlessRange = '>=0.10.0 <2';

/**
 * Wraps a `@neondatabase/serverless` WebSocket `Pool` or `Client` (pg's API over a WebSocket): every
 * query is one `safeguards.run`, cancelled on the server with a CancelRequest sent the way the client
 * connects (through Neon's proxy), and a Pool's `connect()` holds one slot until `release()`.
 *
 * @throws UnsupportedDriverError when `client` is neither a Neon Pool nor a Neon Client.
 */
export function safeguardClient<C extends object>(
  client: C,
  safeguards: Safeguards,
  options: SafeguardPgClientOptions = {},
): C {
  return safeguardPgCompatibleClient(client, safeguards, options, {
    driver: '@neondatabase/serverless',
    range: neonServerlessRange,
  });
}

export { isSafeguardedClient };
