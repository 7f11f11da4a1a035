import {
  type OperationType,
  type Priority,
  type RequestIdentity,
  rateLimitHeaders,
  type Safeguards,
} from '@db-safeguards/core';
import type { TrustProxy } from './client-ip.js';
import { userFriendlyData } from './error-formatter.js';
import { toSafeguardError } from './error-mapping.js';
import { requestIdentity } from './request-identity.js';
import { retryAfterHeader } from './retry-after.js';

export interface ConnectionGuardOptions {
  safeguards: Safeguards;
  /** Rate-limit policy to charge. Default 'api'; `false` for none. */
  policy?: string | false;
  /** Default: 'read' for GET and HEAD, else 'write'. */
  operationType?: OperationType;
  /** Default: from `operationType`, as the core derives it (BATCH for 'batch', CRITICAL for 'critical', else NORMAL). */
  priority?: Priority;
  /**
   * Who is calling: user, tenant, IP (only these three fields are read). A Fetch `Request` does not
   * carry the client's address: return `ip` here from your platform (Hono's `getConnInfo`, your host's
   * header), or set `trustProxy` to read X-Forwarded-For. Without an identity every caller shares one
   * anonymous rate-limit key.
   */
  identify?: (request: Request) => RequestIdentity;
  /** Whose X-Forwarded-For to believe when `identify` gives no `ip` (see `clientIp`). Default `false`. */
  trustProxy?: TrustProxy;
}

/** The result of {@link checkRequest}: a ready refusal, or null and the headers to add on success. */
export interface RequestCheck {
  response: Response | null;
  headers: Record<string, string>;
}

/**
 * The safeguards' admission checks for a route outside tRPC (a REST handler, a webhook, a Next.js
 * route): rate limit, read-only mode, breaker and load shedding. Returns a 429 or 503 JSON response
 * with `Retry-After` and `X-RateLimit-*` headers and a `userFriendly` body, or null to go on (with the
 * rate-limit headers to copy onto your response).
 */
export async function checkRequest(request: Request, options: ConnectionGuardOptions): Promise<RequestCheck> {
  const method = request.method.toUpperCase();
  const operationType = options.operationType ?? (method === 'GET' || method === 'HEAD' ? 'read' : 'write');
  const policy = options.policy === undefined ? 'api' : options.policy;
  const identity = requestIdentity(options.identify?.(request), request, options.trustProxy ?? false);
  try {
    const admission = await options.safeguards.admit({
      ...identity,
      operationType,
      ...(options.priority === undefined ? {} : { priority: options.priority }),
      signal: request.signal,
      label: `${method} ${new URL(request.url).pathname}`,
      ...(policy === false ? {} : { policy }),
    });
    const headers = admission.rateLimit ? { ...rateLimitHeaders(admission.rateLimit) } : {};
    return { response: null, headers: headers as Record<string, string> };
  } catch (error) {
    const refused = toSafeguardError(error);
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (refused.rateLimit)
      Object.assign(headers, rateLimitHeaders({ ...refused.rateLimit, key: '', allowed: false }));
    const userFriendly = userFriendlyData(refused);
    // The body's wait, so that header and body agree.
    if (userFriendly.retryAfterMs !== null)
      headers['Retry-After'] = retryAfterHeader(userFriendly.retryAfterMs);
    const body = JSON.stringify({
      error: { code: refused.type, httpStatus: refused.httpStatus, userFriendly },
    });
    return { response: new Response(body, { status: refused.httpStatus, headers }), headers };
  }
}

/**
 * For Next.js middleware, Hono or any fetch-style server: `const refusal = await
 * withConnectionMiddleware(request, options); if (refusal) return refusal;`. Returns a 429/503
 * `Response`, or `null` to continue.
 */
export async function withConnectionMiddleware(
  request: Request,
  options: ConnectionGuardOptions,
): Promise<Response | null> {
  return (await checkRequest(request, options)).response;
}
