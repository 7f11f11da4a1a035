import { classifyError } from '@db-safeguards/core';
import { toTRPCError } from '@db-safeguards/trpc';
import { type AppDatabase, authenticateSession, type PublicUser } from '../db/index.js';
import type { SessionCache } from './session-cache.js';

/** Whether a failure says the database could not be reached (as opposed to the token being wrong). */
function isOutage(error: unknown): boolean {
  const { type } = classifyError(error);
  return type === 'CONNECTION' || type === 'CIRCUIT_BREAKER' || type === 'TIMEOUT' || type === 'QUEUE_FULL';
}

/**
 * Looks the token up; when the lookup fails because the database is unavailable and this instance
 * verified the token not long ago (`SessionCache.lastVerified`), answers that user, marked
 * `remembered` so the caller does not cache it as newly verified. The later safeguards still refuse
 * what needs the database; what a caller gains is the degraded answers (stale reads, doses accepted
 * for later), which need to know who is asking.
 *
 * @throws TRPCError with the failure's typed code (503 for an outage) when no user can be answered.
 */
export async function authenticateOrRemember(
  db: AppDatabase,
  sessions: SessionCache,
  token: string,
): Promise<
  | { remembered: false; session: Awaited<ReturnType<typeof authenticateSession>> }
  | { remembered: true; user: PublicUser }
> {
  try {
    return { remembered: false, session: await authenticateSession(db, token) };
  } catch (error) {
    const user = isOutage(error) ? sessions.lastVerified(token) : undefined;
    // Translated here: this runs before the safeguards middleware, which would otherwise do it, so an
    // outage is the client's typed 503 rather than an internal error.
    if (!user) throw toTRPCError(error);
    return { remembered: true, user };
  }
}
