import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type ErrorType,
  ErrorType as ErrorTypes,
  type Priority,
  parsePriority,
  SafeguardError,
  type Safeguards,
  toUserFriendlyError,
} from '@db-safeguards/core';
import type {} from '../app-error-reasons.js';
import { buildDashboardSnapshot, type DashboardSources } from './dashboard-snapshot.js';
import type { HealthCache } from './health-cache.js';
import { sendJson } from './json-response.js';
import type { AppMetrics } from './metrics.js';

export interface OperationalRoutesOptions {
  safeguards: Safeguards;
  /** The shared health report: a flood of health checks costs one database probe per interval. */
  health: HealthCache;
  metrics: AppMetrics;
  /** Bearer token of the admin routes; undefined turns them off (404). */
  adminToken: string | undefined;
  /**
   * Bearer token a scraper sends for `/metrics` (the admin token works too). With neither set,
   * `/metrics` is off (404): it publishes the same figures as the admin-only detailed health report.
   */
  metricsToken?: string | undefined;
  /** True once the server is draining for shutdown: readiness fails so traffic moves elsewhere. */
  isDraining: () => boolean;
  startedAt: number;
  /** What the operator dashboard (`GET /api/admin/dashboard`) is made from. */
  dashboard: Omit<DashboardSources, 'safeguards' | 'health'>;
}

/** Whether the request carries `Authorization: Bearer <token>` (compared in constant time). */
function hasBearer(req: IncomingMessage, token: string): boolean {
  const sent = /^Bearer\s+(.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
  const a = Buffer.from(sent);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function parsePriorities(value: string | null): Priority[] | undefined | 'invalid' {
  if (value === null || value === '') return undefined;
  const parsed = value.split(',').map((part) => parsePriority(part.trim()));
  return parsed.some((priority) => priority === undefined) ? 'invalid' : (parsed as Priority[]);
}

/** One request to a route outside tRPC, with the replies every route uses. */
interface RouteCall {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  options: OperationalRoutesOptions;
  reply(status: number, body: unknown, headers?: Record<string, string>): true;
}

type RouteHandler = (call: RouteCall) => true | Promise<true>;

/** The reply refusing a caller who is not the admin, or undefined for the admin. */
function refuseNonAdmin({ req, options, reply }: RouteCall): true | undefined {
  if (options.adminToken === undefined)
    return reply(404, { error: 'Admin endpoints are off: set ADMIN_TOKEN to turn them on.' });
  if (!hasBearer(req, options.adminToken))
    return reply(401, { error: 'An admin bearer token is required.' }, { 'www-authenticate': 'Bearer' });
  return undefined;
}

/**
 * What `/` answers when the web client is not built (`pnpm --filter @db-safeguards/vetmed build`
 * builds it): where the API and the operational routes are.
 */
export const apiIndexBody = {
  name: 'VetMed (db-safeguards sample app)',
  web: 'not built: run `pnpm build` (or `pnpm start`) to serve the web client here',
  api: '/api/trpc',
  health: ['/api/health', '/api/health?detailed=true', '/api/ready', '/api/alive'],
  metrics: '/metrics',
};

/** Routes answered for any method; `/api/health?detailed=true` alone needs the admin token. */
const openRoutes: Readonly<Record<string, RouteHandler>> = {
  '/api/health': async (call) => {
    // The detailed report shows error counts, breaker states and load: for operators only.
    const detailed = call.url.searchParams.get('detailed') === 'true';
    if (detailed && refuseNonAdmin(call)) return true;
    // The probe runs on the CRITICAL reserve, so it answers even when every other slot is busy; the
    // report is shared, so health checks cannot take that reserve (and the budget) from the users.
    const report = await call.options.health.report();
    if (detailed) return call.reply(report.httpStatus, report);
    return call.reply(report.httpStatus, {
      status: report.status,
      timestamp: report.timestamp,
      uptime: Date.now() - call.options.startedAt,
      database: report.components.database?.status ?? 'unknown',
      queue: report.components.queue.status,
    });
  },
  '/api/ready': ({ options, reply }) =>
    options.isDraining()
      ? reply(503, { ready: false, reason: 'shutting down' })
      : reply(200, { ready: true }),
  '/api/alive': ({ options, reply }) => reply(200, { alive: true, uptime: Date.now() - options.startedAt }),
  '/metrics': async ({ req, res, options, reply }): Promise<true> => {
    // The same figures as the detailed health report (error counts, breaker states, load): for the
    // operators' scraper, which sends its token as a bearer token (Prometheus: `authorization`).
    const tokens = [options.metricsToken, options.adminToken].filter((token) => token !== undefined);
    if (tokens.length === 0)
      return reply(404, {
        error: 'Metrics are off: set METRICS_TOKEN and scrape with it as a bearer token.',
      });
    if (!tokens.some((token) => hasBearer(req, token)))
      return reply(401, { error: 'A metrics bearer token is required.' }, { 'www-authenticate': 'Bearer' });
    const body = await options.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': options.metrics.registry.contentType });
    res.end(body);
    return true;
  },
};

/** Routes under `/api/admin/`, by method and path: all need the admin token. */
const adminRoutes: Readonly<Record<string, RouteHandler>> = {
  'POST /api/admin/circuit-breaker/reset': ({ url, options, reply }) => {
    const { safeguards } = options;
    const name = url.searchParams.get('name');
    if (name !== null && !safeguards.breakers.has(name))
      return reply(404, { error: `No breaker named "${name}".` });
    if (name === null) safeguards.breakers.resetAll();
    else safeguards.breakers.get(name).reset();
    options.health.invalidate();
    return reply(200, { reset: name ?? 'all', breakers: safeguards.breakers.stats() });
  },
  'POST /api/admin/circuit-breaker/open': ({ url, options, reply }) => {
    // A drill: open a breaker to see what users see and that it recovers by itself (it half-opens
    // after its open duration, like a breaker opened by failures).
    const { safeguards } = options;
    const name = url.searchParams.get('name') ?? 'primary';
    if (!safeguards.breakers.has(name)) return reply(404, { error: `No breaker named "${name}".` });
    safeguards.breakers.get(name).forceOpen();
    options.health.invalidate();
    return reply(200, { opened: name, breakers: safeguards.breakers.stats() });
  },
  'POST /api/admin/queue/pause': (call) => pauseOrResume(call, 'pause'),
  'POST /api/admin/queue/resume': (call) => pauseOrResume(call, 'resume'),
  'GET /api/admin/dashboard': ({ url, options, reply }) => {
    const sinceText = url.searchParams.get('since');
    if (sinceText !== null && !/^\d{1,15}$/.test(sinceText))
      return reply(400, { error: 'since must be a time in epoch milliseconds' });
    const sources = { ...options.dashboard, safeguards: options.safeguards, health: options.health };
    return reply(200, buildDashboardSnapshot(sources, sinceText === null ? undefined : Number(sinceText)));
  },
  'GET /api/admin/errors': ({ url, options, reply }) => {
    const limitText = url.searchParams.get('limit') ?? '50';
    const type = url.searchParams.get('type') ?? undefined;
    const limit = Number(limitText);
    if (!/^\d+$/.test(limitText) || limit < 1 || limit > 200)
      return reply(400, { error: 'limit must be an integer from 1 to 200' });
    if (type !== undefined && !Object.hasOwn(ErrorTypes, type))
      return reply(400, { error: `type must be one of ${Object.keys(ErrorTypes).join(', ')}` });
    return reply(200, {
      errors: options.safeguards.errorLog.recent({ limit, type: type as ErrorType | undefined }),
      counts: options.safeguards.errorLog.counts(),
      // Refusals (rate limit, shed, full queue, open breaker), one row per burst: kept apart so that a
      // flood of them never pushes the real errors above out of the list.
      refusals: options.safeguards.errorLog.refusals({ limit }),
    });
  },
};

function pauseOrResume({ url, options, reply }: RouteCall, action: 'pause' | 'resume'): true {
  const { safeguards } = options;
  const which = parsePriorities(url.searchParams.get('priorities'));
  if (which === 'invalid')
    return reply(400, {
      error: 'priorities must be a comma-separated list of CRITICAL, HIGH, NORMAL, LOW, BATCH',
    });
  if (action === 'pause') which ? safeguards.pause(which) : safeguards.pauseAll();
  else which ? safeguards.resume(which) : safeguards.resumeAll();
  options.health.invalidate();
  return reply(200, { paused: safeguards.queue.stats().paused });
}

/**
 * Every path served outside `/api/trpc`, from the route tables themselves: the only values (besides
 * the tRPC procedures) that metrics and logs use as a route label, so a route added to a table is
 * labelled as itself.
 */
export const operationalRoutePaths: readonly string[] = [
  ...Object.keys(openRoutes),
  ...new Set(Object.keys(adminRoutes).map((route) => route.slice(route.indexOf(' ') + 1))),
];

/**
 * Health, readiness, liveness, metrics and the admin controls: everything outside `/api/trpc` and
 * the web client. Returns false when the path is not one of them.
 */
export async function handleOperationalRoute(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  options: OperationalRoutesOptions,
): Promise<boolean> {
  const call: RouteCall = {
    req,
    res,
    url,
    options,
    reply(status, body, headers = {}) {
      sendJson(res, status, body, headers);
      return true;
    },
  };
  const open = Object.hasOwn(openRoutes, url.pathname) ? openRoutes[url.pathname] : undefined;
  if (open) return open(call);
  if (!url.pathname.startsWith('/api/admin/')) return false;
  if (refuseNonAdmin(call)) return true;
  const route = `${req.method ?? 'GET'} ${url.pathname}`;
  const admin = Object.hasOwn(adminRoutes, route) ? adminRoutes[route] : undefined;
  return admin ? admin(call) : call.reply(404, { error: `No admin route ${route}.` });
}

/** An error body shaped like tRPC's, for the routes outside it. */
export function errorBody(error: unknown) {
  const userFriendly = toUserFriendlyError(error);
  return { error: { code: userFriendly.type, message: userFriendly.message, userFriendly } };
}

/** The body of a 404 for paths the app does not serve, shaped like every other error. */
export function notFoundBody(path: string) {
  return errorBody(
    new SafeguardError({ type: 'NOT_FOUND', reason: 'no-route', userMessage: `Nothing at ${path}.` }),
  );
}
