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
  /** True once the server is draining for shutdown: readiness fails so traffic moves elsewhere. */
  isDraining: () => boolean;
  startedAt: number;
}

function isAdmin(req: IncomingMessage, token: string): boolean {
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

/**
 * Health, readiness, liveness, metrics and the admin controls: everything outside `/api/trpc`.
 * Returns false when the path is not one of them.
 */
export async function handleOperationalRoute(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  options: OperationalRoutesOptions,
): Promise<boolean> {
  const { safeguards } = options;
  const method = req.method ?? 'GET';
  const reply = (status: number, body: unknown, headers: Record<string, string> = {}): true => {
    sendJson(res, status, body, headers);
    return true;
  };
  /** The reply refusing a caller who is not the admin, or undefined for the admin. */
  const refuseNonAdmin = (): true | undefined => {
    if (options.adminToken === undefined)
      return reply(404, { error: 'Admin endpoints are off: set ADMIN_TOKEN to turn them on.' });
    if (!isAdmin(req, options.adminToken))
      return reply(401, { error: 'An admin bearer token is required.' }, { 'www-authenticate': 'Bearer' });
    return undefined;
  };
  switch (url.pathname) {
    case '/api/health': {
      // The detailed report shows error counts, breaker states and load: for operators only.
      const detailed = url.searchParams.get('detailed') === 'true';
      if (detailed && refuseNonAdmin()) return true;
      // The probe runs on the CRITICAL reserve, so it answers even when every other slot is busy; the
      // report is shared, so health checks cannot take that reserve (and the budget) from the users.
      const report = await options.health.report();
      if (detailed) {
        sendJson(res, report.httpStatus, report);
      } else {
        sendJson(res, report.httpStatus, {
          status: report.status,
          timestamp: report.timestamp,
          uptime: Date.now() - options.startedAt,
          database: report.components.database?.status ?? 'unknown',
          queue: report.components.queue.status,
        });
      }
      return true;
    }
    case '/api/ready':
      if (options.isDraining()) sendJson(res, 503, { ready: false, reason: 'shutting down' });
      else sendJson(res, 200, { ready: true });
      return true;
    case '/api/alive':
      sendJson(res, 200, { alive: true, uptime: Date.now() - options.startedAt });
      return true;
    case '/metrics': {
      const body = await options.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': options.metrics.registry.contentType });
      res.end(body);
      return true;
    }
  }
  if (!url.pathname.startsWith('/api/admin/')) return false;
  if (refuseNonAdmin()) return true;

  const route = `${method} ${url.pathname}`;
  switch (route) {
    case 'POST /api/admin/circuit-breaker/reset': {
      const name = url.searchParams.get('name');
      if (name !== null && !safeguards.breakers.has(name))
        return reply(404, { error: `No breaker named "${name}".` });
      if (name === null) safeguards.breakers.resetAll();
      else safeguards.breakers.get(name).reset();
      options.health.invalidate();
      return reply(200, { reset: name ?? 'all', breakers: safeguards.breakers.stats() });
    }
    case 'POST /api/admin/queue/pause':
    case 'POST /api/admin/queue/resume': {
      const which = parsePriorities(url.searchParams.get('priorities'));
      if (which === 'invalid')
        return reply(400, {
          error: 'priorities must be a comma-separated list of CRITICAL, HIGH, NORMAL, LOW, BATCH',
        });
      const pausing = url.pathname.endsWith('/pause');
      if (pausing) which ? safeguards.pause(which) : safeguards.pauseAll();
      else which ? safeguards.resume(which) : safeguards.resumeAll();
      options.health.invalidate();
      return reply(200, { paused: safeguards.queue.stats().paused });
    }
    case 'GET /api/admin/errors': {
      const limitText = url.searchParams.get('limit') ?? '50';
      const type = url.searchParams.get('type') ?? undefined;
      const limit = Number(limitText);
      if (!/^\d+$/.test(limitText) || limit < 1 || limit > 200)
        return reply(400, { error: 'limit must be an integer from 1 to 200' });
      if (type !== undefined && !Object.hasOwn(ErrorTypes, type))
        return reply(400, { error: `type must be one of ${Object.keys(ErrorTypes).join(', ')}` });
      return reply(200, {
        errors: safeguards.errorLog.recent({ limit, type: type as ErrorType | undefined }),
        counts: safeguards.errorLog.counts(),
      });
    }
    default:
      return reply(404, { error: `No admin route ${route}.` });
  }
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
