import { type RateLimitInfo, rateLimitHeaders } from '@db-safeguards/core';
import type { AnyTRPCRouter, TRPCError } from '@trpc/server';
import type { ResponseMeta, ResponseMetaFn } from '@trpc/server/http';
import { toSafeguardError } from './error-mapping.js';
import { requestState } from './request-state.js';
import { retryAfterHeader } from './retry-after.js';

type ResponseMetaOptions<TRouter extends AnyTRPCRouter> = Parameters<ResponseMetaFn<TRouter>>[0];

/** The limit a client should pace itself by: in a batch, the one with the fewest requests left. */
function tightest(limits: readonly RateLimitInfo[]): RateLimitInfo | undefined {
  let best: RateLimitInfo | undefined;
  for (const limit of limits) if (!best || limit.remaining < best.remaining) best = limit;
  return best;
}

/**
 * The headers for a set of results: `X-RateLimit-*` whenever a call was rate limited or charged
 * (successes too), and `Retry-After` (whole seconds) when any call ended in 429 or 503 — in a batch
 * with mixed outcomes (207) the longest wait among them.
 */
export function safeguardsHeaders(ctx: unknown, errors: readonly TRPCError[]): Record<string, string> {
  const headers: Record<string, string> = {};
  const limit = tightest(requestState(ctx)?.rateLimits ?? []);
  // An allowed result has no Retry-After: that header comes from the errors below.
  if (limit) Object.assign(headers, rateLimitHeaders({ ...limit, key: '', allowed: true }));
  let retryAfterMs = 0;
  for (const error of errors) {
    const classified = toSafeguardError(error);
    if (
      (classified.httpStatus === 429 || classified.httpStatus === 503) &&
      classified.retryAfterMs !== undefined
    ) {
      retryAfterMs = Math.max(retryAfterMs, classified.retryAfterMs, 1);
    }
  }
  if (retryAfterMs > 0) headers['Retry-After'] = retryAfterHeader(retryAfterMs);
  return headers;
}

/**
 * A `responseMeta` for tRPC's HTTP adapters (`createHTTPServer`, `fetchRequestHandler`, Next.js...):
 * adds the rate-limit and retry headers. Pass your own `responseMeta` to combine with it; its headers
 * win on conflict and its status is kept.
 */
export function safeguardsResponseMeta<TRouter extends AnyTRPCRouter>(
  inner?: ResponseMetaFn<TRouter>,
): ResponseMetaFn<TRouter> {
  return (opts: ResponseMetaOptions<TRouter>): ResponseMeta => {
    const own = safeguardsHeaders(opts.ctx, opts.errors);
    const theirs = inner?.(opts);
    const headers = new Headers(own);
    if (theirs?.headers) {
      for (const [name, value] of new Headers(theirs.headers as HeadersInit)) headers.set(name, value);
    }
    return { ...(theirs?.status === undefined ? {} : { status: theirs.status }), headers };
  };
}
