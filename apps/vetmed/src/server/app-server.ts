import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { isSafeguardError, SafeguardError, type Safeguards } from '@db-safeguards/core';
import {
  addressGroup,
  createEdgeAdmission,
  defaultMaxBatchSize,
  type EdgeDecision,
  isTrustedProxy,
  prechargeCalls,
  requestCallPaths,
  safeguardsResponseMeta,
  sendEdgeRefusal,
  type TrustProxy,
  trpcCodeFor,
} from '@db-safeguards/trpc';
import { TRPCError } from '@trpc/server';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import type { Logger } from 'pino';
import type {} from '../app-error-reasons.js';
import type { Database } from '../db/index.js';
import type { DeferredDoseQueue } from '../deferred/deferred-dose-queue.js';
import { StaleReads } from '../degradation/stale-reads.js';
import { type AppRouter, appRouter } from '../routers/app-router.js';
import { bearerToken, createContextFactory, type RequestContext } from '../trpc/context.js';
import { registerGuard } from '../trpc/init.js';
import { SessionCache } from '../trpc/session-cache.js';
import { createHealthCache } from './health-cache.js';
import { sendJson } from './json-response.js';
import { createLoadSampler } from './load-sampler.js';
import { createMetrics } from './metrics.js';
import {
  apiIndexBody,
  errorBody,
  handleOperationalRoute,
  notFoundBody,
  operationalRoutePaths,
} from './operational-routes.js';
import { RefusalLog, refusalKind } from './refusal-log.js';
import { bodyLimitFor, defaultCallBodyLimitBytes, guardRequestBody } from './request-body-guard.js';
import { requestLogger } from './request-logger.js';
import { createRouteLabeller, otherRoute } from './route-label.js';
import { loadWebAssets } from './web-assets.js';

export interface AppServerOptions {
  database: Database;
  /**
   * The process's safeguards, with the app's `token` rate-limit policy (`loadEnv().safeguards` has it;
   * else `createSafeguards(withTokenPolicy(options))`): `startAppServer` rejects without it.
   */
  safeguards: Safeguards;
  log: Logger;
  port: number;
  host: string;
  adminToken: string | undefined;
  /** Bearer token of `/metrics` besides the admin token; with neither, `/metrics` is off (404). */
  metricsToken?: string | undefined;
  /** Deadline of each API call (its database work included). */
  requestTimeoutMs: number;
  /** How long a verified bearer token is trusted without a new lookup (default 30 s). */
  sessionTtlMs?: number;
  /** Largest request body accepted (413 beyond): the limit of the imports, the only large bodies. */
  bodyLimitBytes: number;
  /** Largest body of every procedure but the imports. Default 64 KiB (never above `bodyLimitBytes`). */
  callBodyLimitBytes?: number;
  /** Most calls one tRPC batch may hold (400 beyond). Default 25 (`defaultMaxBatchSize`). */
  maxBatchSize?: number;
  /** Open connections the server accepts at once; more are closed at once. Default 2 000. */
  maxConnections?: number;
  /**
   * Open connections one client IP (an IPv6 /64) may hold; more are closed at once. Not applied to
   * the proxies `trustProxy` names (all clients arrive through them), nor at all when `trustProxy`
   * is `true` or a hop count (the peer is always the proxy then). Default 100.
   */
  maxConnectionsPerIp?: number;
  trustProxy?: TrustProxy;
  /** How long one health report (one database probe) answers every health check. Default 1000 ms. */
  healthCacheMs?: number;
  /**
   * The built web client served at `/` (`vite build`'s output). Default: the package's `dist/web`.
   * `false` serves none; without a build, `/` answers a JSON index of the API.
   */
  webRoot?: string | false;
  /** Oldest last good answer a degradable read may serve while the database is unavailable (0: none). Default 30 min. */
  staleReadMaxAgeMs?: number;
  /** With REDIS_URL: where dose recordings wait while the database is unavailable. */
  deferredDoses?: DeferredDoseQueue | undefined;
  /**
   * Refused requests logged in full a second for each kind of refusal (`type:reason` and rate-limit
   * policy); the rest are counted in one line every 10 s (see `RefusalLog`). Default 5.
   */
  refusalLinesPerSecond?: number;
  /** The app role's backends as the health probe last counted them, for the dashboard (see `BackendCounter`). */
  backends?: () => { count: number; countedAt: number } | undefined;
  /** Why backends are not counted, when they are not. */
  backendsNote?: string;
}

/** Where `vite build` puts the web client: `dist/web` of this package, from `src/server` or `dist/server`. */
export const defaultWebRoot = fileURLToPath(new URL('../../dist/web/', import.meta.url));

/** The metric and log label of every request the web client's files answer. */
const webRoute = 'web';

export interface AppServer {
  readonly server: Server;
  readonly url: string;
  /** Requests being handled right now. */
  readonly inFlight: number;
  /** Stops accepting, lets in-flight requests finish for up to `drainMs`, then closes what is left. */
  drain(drainMs: number): Promise<void>;
}

const trpcPrefix = '/api/trpc/';
/** Paths the web client's page fallback never answers: they keep their typed JSON 404. */
const apiPrefixes = ['/api', '/metrics'];
const loadRefusals: ReadonlySet<string> = new Set(['RATE_LIMIT', 'QUEUE_FULL', 'CIRCUIT_BREAKER']);

const isLoadRefusal = (error: unknown): error is SafeguardError =>
  isSafeguardError(error) && loadRefusals.has(error.type) && error.cause === undefined;
const requestIdPattern = /^[\w.:-]{1,100}$/;

// The router's procedures and the operational routes are fixed at start: only they become metric labels.
const routeOf = createRouteLabeller(
  trpcPrefix,
  Object.keys(appRouter._def.procedures),
  operationalRoutePaths,
);

/**
 * The app's HTTP server: tRPC at `/api/trpc` (the standalone adapter, with the safeguards'
 * middleware, error formatter and response headers), health and admin routes, Prometheus metrics,
 * request IDs (`X-Request-Id`, taken from the client when well-formed) and JSON access logs.
 */
export async function startAppServer(options: AppServerOptions): Promise<AppServer> {
  const { safeguards, log } = options;
  // First: it refuses safeguards the procedures cannot run on, before anything is started.
  registerGuard(safeguards, { timeoutMs: options.requestTimeoutMs });
  const startedAt = Date.now();
  const metrics = createMetrics(safeguards);
  const health = createHealthCache(safeguards, { maxAgeMs: options.healthCacheMs });
  const web =
    options.webRoot === false
      ? undefined
      : await loadWebAssets(options.webRoot ?? defaultWebRoot, { apiPrefixes });
  const sampler = createLoadSampler(safeguards, { backends: options.backends });
  const dashboard = {
    sampler,
    driver: options.database.driver,
    backends: options.backends,
    backendsNote: options.backendsNote,
  };
  const sessions = new SessionCache(options.sessionTtlMs);
  const createContext = createContextFactory({
    database: options.database,
    safeguards,
    sessions,
    staleReads: new StaleReads(
      options.staleReadMaxAgeMs === undefined ? {} : { maxStaleMs: options.staleReadMaxAgeMs },
    ),
    deferredDoses: options.deferredDoses,
    trustProxy: options.trustProxy ?? false,
  });
  const contexts = new WeakMap<IncomingMessage, RequestContext>();
  /** Requests whose body was refused (too large for its procedures, or nested too deep). */
  const bodyRefusals = new WeakMap<IncomingMessage, SafeguardError>();
  const bodyLimits = {
    largeBytes: options.bodyLimitBytes,
    defaultBytes: options.callBodyLimitBytes ?? defaultCallBodyLimitBytes,
    largePrefixes: ['imports.'],
  };
  const maxBatchSize = options.maxBatchSize ?? defaultMaxBatchSize;
  /**
   * Admission at the edge, before the body is read and before tRPC: every call of the request is
   * checked (read-only, load by priority, rate limit, breaker, queue) and charged on its own. The
   * caller is the user the token was last verified as (`SessionCache.lastVerified`: also after the
   * cache's 30 s, until a lookup finds the token gone), else the IP. A request with a token never
   * verified here is left to the middleware, which charges its user once the token is looked up:
   * charging the IP instead would let one client behind a shared address use up everyone's limit
   * there (and an unknown token is charged to the IP's `token` policy, see `trpc/init.ts`).
   */
  const edge = createEdgeAdmission({
    router: appRouter,
    safeguards,
    basePath: trpcPrefix,
    maxBatchSize,
    trustProxy: options.trustProxy ?? false,
    // History, regimens and inventory answer stale, and dose recordings are kept for later, while the
    // database is unavailable: those calls must reach their procedures, not an edge 503.
    refuseUnavailable: false,
    identify: (req) => {
      const token = bearerToken((req as IncomingMessage).headers.authorization);
      const user = token === undefined ? undefined : sessions.lastVerified(token);
      return user === undefined ? undefined : { userId: user.id };
    },
  });
  const decideAtEdge = (req: IncomingMessage, url: URL): Promise<EdgeDecision> | undefined => {
    const token = bearerToken(req.headers.authorization);
    if (token !== undefined && sessions.lastVerified(token) === undefined) return undefined;
    return edge(req, url);
  };
  const refusalLog = new RefusalLog(
    log,
    options.refusalLinesPerSecond === undefined ? {} : { fullLinesPerSecond: options.refusalLinesPerSecond },
  );
  /** The context of a tRPC request, with the edge's outcome of each call for the middleware. */
  const trpcContext = (req: IncomingMessage, requestLog: Logger, decision: EdgeDecision) => {
    const context = createContext(req, requestLog);
    if (decision?.admitted) prechargeCalls(context, decision.admitted);
    return context;
  };
  const trpc = createHTTPHandler<AppRouter>({
    router: appRouter,
    basePath: trpcPrefix,
    maxBodySize: options.bodyLimitBytes,
    maxBatchSize,
    createContext: ({ req }) => {
      const refused = bodyRefusals.get(req);
      if (refused)
        throw new TRPCError({
          code: refused.httpStatus === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST',
          message: refused.userMessage,
          cause: refused,
        });
      return contexts.get(req)!;
    },
    responseMeta: safeguardsResponseMeta(),
    onError: ({ error, path, ctx }) => {
      const status = error.code === 'INTERNAL_SERVER_ERROR' ? 'error' : 'warn';
      const cause = error.cause ?? error;
      // A refusal (rate limit, full queue, open breaker) is the app protecting itself: under overload
      // there are thousands, so a request's refusals make one line when it ends (see `handle`), a few
      // a second of each kind and a count of the rest (`RefusalLog`): a flood of them can neither
      // bury the real errors nor take the CPU the admitted calls need.
      if (isLoadRefusal(cause) && ctx?.refusals) {
        const refusals = ctx.refusals;
        const kind = refusalKind(cause);
        refusals.byKind[kind] = (refusals.byKind[kind] ?? 0) + 1;
        refusals.count++;
        refusals.first ??= { path, code: error.code, error: cause };
        return;
      }
      const detail = isLoadRefusal(cause) ? { error: cause.toLogObject() } : { err: cause };
      (ctx?.log ?? log)[status]({ path, code: error.code, ...detail }, 'procedure failed');
    },
  });

  let inFlight = 0;
  let draining = false;
  let drained: (() => void) | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const sentId = req.headers['x-request-id'];
    const requestId = typeof sentId === 'string' && requestIdPattern.test(sentId) ? sentId : randomUUID();
    res.setHeader('x-request-id', requestId);
    const requestLog = requestLogger(log, requestId);
    const url = new URL(req.url ?? '/', 'http://localhost');
    let route = routeOf(url.pathname);
    // Every answer is only what its content type says; HSTS once the client reached us over TLS.
    res.setHeader('x-content-type-options', 'nosniff');
    if (overTls(req)) res.setHeader('strict-transport-security', 'max-age=31536000; includeSubDomains');
    inFlight++;
    res.on('close', () => {
      inFlight--;
      // One line for all the refused calls of the request: the first in full, the rest counted.
      const refusals = contexts.get(req)?.refusals;
      if (refusals?.first !== undefined)
        refusalLog.record(
          {
            path: refusals.first.path,
            code: refusals.first.code,
            first: refusals.first.error,
            refused: refusals.count,
            byKind: refusals.byKind,
          },
          requestLog,
        );
      const seconds = (performance.now() - started) / 1000;
      metrics.observeRequest(req.method ?? 'GET', route, res.statusCode, seconds);
      log.info(
        {
          requestId,
          method: req.method,
          route,
          ...(route === otherRoute ? { path: url.pathname.slice(0, 200) } : {}),
          status: res.statusCode,
          ms: Math.round(seconds * 1000),
        },
        'request',
      );
      if (draining && inFlight === 0) drained?.();
    });
    try {
      if (url.pathname.startsWith(trpcPrefix)) {
        // Answers are per user (sign-in returns a token): no cache, shared or private, may keep one.
        res.setHeader('cache-control', 'no-store');
        const decision = await decideAtEdge(req, url);
        if (decision?.refused) {
          // Every call refused: answered here, the body unread, tRPC never runs. Logged as the
          // refusals tRPC answers are (see onError), with the tRPC code tRPC would have given.
          const { errors } = decision.refused;
          const byKind: Record<string, number> = {};
          for (const error of errors) {
            const kind = refusalKind(error);
            byKind[kind] = (byKind[kind] ?? 0) + 1;
          }
          const first = errors[0]!;
          refusalLog.record(
            {
              path: decision.refused.paths[0],
              code: trpcCodeFor(first),
              first,
              refused: errors.length,
              byKind,
            },
            requestLog,
          );
          sendEdgeRefusal(res, decision.refused);
          return;
        }
        contexts.set(req, trpcContext(req, requestLog, decision));
        const refused = await guardRequestBody(
          req,
          url,
          bodyLimitFor(requestCallPaths(url, trpcPrefix), bodyLimits),
        );
        if (refused) {
          bodyRefusals.set(req, refused);
          // The rest of the body stays unread: this connection cannot be reused.
          res.setHeader('connection', 'close');
        }
        await trpc(req, res);
        return;
      }
      const handled = await handleOperationalRoute(req, res, url, {
        safeguards,
        health,
        metrics,
        adminToken: options.adminToken,
        metricsToken: options.metricsToken,
        isDraining: () => draining,
        startedAt,
        dashboard,
      });
      if (handled) return;
      if (web?.serve(req, res, url.pathname)) {
        route = webRoute;
        return;
      }
      if (url.pathname === '/' && !web) sendJson(res, 200, apiIndexBody);
      else sendJson(res, 404, notFoundBody(url.pathname));
    } catch (error) {
      requestLog.error({ err: error }, 'request handler failed');
      const body = errorBody(error);
      sendJson(res, body.error.userFriendly.httpStatus, body);
    }
  };

  // Slow clients cannot hold sockets open: the whole request must arrive within the timeout (15 s by
  // default), and Node checks it every second rather than every 30 s.
  const requestTimeout = options.requestTimeoutMs + 5_000;
  const server = createServer(
    {
      requestTimeout,
      headersTimeout: Math.min(requestTimeout, 15_000),
      connectionsCheckingInterval: 1_000,
    },
    (req, res) => {
      void handle(req, res);
    },
  );
  server.maxConnections = options.maxConnections ?? 2_000;
  const perIpCap = options.maxConnectionsPerIp ?? 100;
  const trustProxy = options.trustProxy ?? false;
  const openByIp = new Map<string, number>();
  server.on('connection', (socket) => {
    const peer = socket.remoteAddress;
    if (peer === undefined || trustProxy === true || typeof trustProxy === 'number') return;
    // A trusted proxy carries everyone's connections: only its clients' requests are limited.
    if (Array.isArray(trustProxy) && isTrustedProxy(peer, trustProxy)) return;
    const key = addressGroup(peer);
    const open = (openByIp.get(key) ?? 0) + 1;
    if (open > perIpCap) {
      socket.destroy();
      return;
    }
    openByIp.set(key, open);
    socket.once('close', () => {
      const left = (openByIp.get(key) ?? 1) - 1;
      if (left <= 0) openByIp.delete(key);
      else openByIp.set(key, left);
    });
  });
  /** Did the request reach us over TLS: our own socket, or a trusted proxy that says so? */
  const overTls = (req: IncomingMessage): boolean => {
    if ((req.socket as { encrypted?: boolean }).encrypted === true) return true;
    if (trustProxy === false) return false;
    const proto = req.headers['x-forwarded-proto'];
    if (proto !== 'https') return false;
    const peer = req.socket.remoteAddress;
    return !Array.isArray(trustProxy) || (peer !== undefined && isTrustedProxy(peer, trustProxy));
  };
  // Requests Node refuses before any handler runs (headers or URL too large, malformed HTTP, too slow)
  // still get a typed JSON body, like every other error.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status =
      error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body = JSON.stringify(
      errorBody(
        new SafeguardError({
          type: status === 408 ? 'TIMEOUT' : 'VALIDATION',
          reason:
            status === 431 ? 'request-too-large' : status === 408 ? 'request-timeout' : 'malformed-request',
          httpStatus: status,
          userMessage:
            status === 431
              ? 'That request is too large.'
              : status === 408
                ? 'The request took too long to arrive.'
                : 'That request could not be read.',
        }),
      ),
    );
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  server.keepAliveTimeout = 5_000;
  server.on('close', () => {
    sampler.stop();
    refusalLog.flush();
  });
  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error) => {
      sampler.stop();
      reject(error);
    };
    server.once('error', fail);
    // The kernel holds connections the process has not accepted yet in a queue of `backlog`; past it,
    // new connections' SYNs are dropped and their clients wait for a retransmission: 1 s, then 3 s,
    // then 7 s. Node's default of 511 overflowed in the first second of a surge (measured in
    // bench:priority: 4,718 overflows in one run, urgent calls reaching the app 1 s after they were
    // sent), so the queue is as long as the kernel allows (net.core.somaxconn caps it; 4096 on
    // current Linux).
    server.listen({ port: options.port, host: options.host, backlog: 4096 }, () => {
      server.off('error', fail);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    server,
    url: `http://${host}:${address.port}`,
    get inFlight() {
      return inFlight;
    },
    async drain(drainMs: number) {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        await Promise.race([
          new Promise<void>((resolve) => {
            drained = resolve;
          }),
          new Promise<void>((resolve) => setTimeout(resolve, drainMs).unref()),
        ]);
      }
      server.closeAllConnections();
      await closed;
    },
  };
}
