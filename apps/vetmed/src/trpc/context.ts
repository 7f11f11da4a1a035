import type { IncomingMessage } from 'node:http';
import type { SafeguardError, Safeguards } from '@db-safeguards/core';
import { clientIp, type TrustProxy, withSafeguardsContext } from '@db-safeguards/trpc';
import type { Logger } from 'pino';
import type { AppDatabase, Database, PublicUser } from '../db/index.js';
import type { DeferredDoseQueue } from '../deferred/deferred-dose-queue.js';
import type { StaleReads } from '../degradation/stale-reads.js';
import type { SessionCache } from './session-cache.js';

/** What every procedure can reach: the database, the safeguards, the caller. */
export interface RequestContext {
  ip: string | undefined;
  /** The bearer token sent, if any (verified lazily by the `authenticated` middleware). */
  token: string | undefined;
  log: Logger;
  db: AppDatabase;
  safeguards: Safeguards;
  sessions: SessionCache;
  /**
   * The request's one session lookup, shared by every call of a batch: a batch of 25 calls with an
   * unknown token costs one database lookup, not 25.
   */
  session: { lookup: Promise<PublicUser | undefined> | undefined };
  /** The request's refused calls, logged as one line when it ends (set by the HTTP server). */
  refusals?: {
    count: number;
    byKind: Record<string, number>;
    first?: { path: string | undefined; code: string; error: SafeguardError };
  };
  /** The last good answers of the degradable reads (`staleReadProcedure`). */
  staleReads: StaleReads;
  /** Where dose recordings wait while the database is unavailable; undefined without REDIS_URL. */
  deferredDoses: DeferredDoseQueue | undefined;
  /** Set for procedures built on `protectedProcedure`. */
  user?: PublicUser;
}

export interface ContextDependencies {
  database: Database;
  safeguards: Safeguards;
  sessions: SessionCache;
  staleReads: StaleReads;
  deferredDoses?: DeferredDoseQueue | undefined;
  trustProxy: TrustProxy;
}

export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value ? /^Bearer\s+([A-Za-z0-9_-]{10,200})$/.exec(value.trim()) : null;
  return match?.[1];
}

/**
 * Builds the context of one HTTP request. No database call happens here: the token is verified later
 * by the `authenticated` middleware (`trpc/init.ts`), which runs BEFORE the safeguards middleware (the
 * per-user rate limit needs the user it finds) and gives its lookup the procedure's priority,
 * deadline and abort signal.
 */
export function createContextFactory(dependencies: ContextDependencies) {
  return (req: IncomingMessage, log: Logger): RequestContext =>
    withSafeguardsContext<RequestContext>({
      ip: clientIp(
        { remoteAddress: req.socket.remoteAddress, headers: req.headers },
        dependencies.trustProxy,
      ),
      token: bearerToken(req.headers.authorization),
      log,
      db: dependencies.database.db,
      safeguards: dependencies.safeguards,
      sessions: dependencies.sessions,
      session: { lookup: undefined },
      refusals: { count: 0, byKind: {} },
      staleReads: dependencies.staleReads,
      deferredDoses: dependencies.deferredDoses,
    });
}
