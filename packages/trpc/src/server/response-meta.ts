import { type RateLimitInfo, rateLimitHeaders } from '@db-safeguards/core';
import type { AnyTRPCRouter, TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError, type ResponseMeta, type ResponseMetaFn } from '@trpc/server/http';
import { type FormatterInput, userFriendlyData } from './error-formatter.js';
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
 * The `X-RateLimit-*` headers for the limits a request's calls were charged against (none when it
 * was charged nothing). `Retry-After` is not among them: it comes from the errors, see below.
 */
export function rateLimitHeadersOf(limits: readonly RateLimitInfo[]): Record<string, string> {
  const limit = tightest(limits);
  return limit ? { ...rateLimitHeaders({ ...limit, key: '', allowed: true }) } : {};
}

/**
 * The headers for a set of results: `X-RateLimit-*` whenever a call was rate limited or charged
 * (successes too), and `Retry-After` (whole seconds) when a call's answer is a 429 or 503 whose body
 * says it is worth retrying — in a batch with mixed outcomes (207) the longest wait among them. The
 * status is the one tRPC sends for the error (an untranslated error is a 500, whatever caused it)
 * and the wait is the body's `userFriendly.retryAfterMs`, so header and body never disagree. `type`
 * is the request's call type (`responseMeta`'s `type`), as for {@link userFriendlyData}.
 */
export function safeguardsHeaders(
  ctx: unknown,
  errors: readonly TRPCError[],
  type?: FormatterInput['type'],
): Record<string, string> {
  const headers = rateLimitHeadersOf(requestState(ctx)?.rateLimits ?? []);
  let retryAfterMs = 0;
  for (const error of errors) {
    const status = getHTTPStatusCodeFromError(error);
    if (status !== 429 && status !== 503) continue;
    const wait = userFriendlyData(error, type === undefined ? {} : { type }).retryAfterMs;
    if (wait !== null) retryAfterMs = Math.max(retryAfterMs, wait, 1);
  }
  if (retryAfterMs > 0) headers['Retry-After'] = retryAfterHeader(retryAfterMs);
  return headers;
}

/**
 * A `responseMeta` for tRPC's HTTP adapters (`createHTTPServer`, `fetchRequestHandler`, Next.js...):
 * adds the rate-limit and retry headers. Pass your own `responseMeta` to combine with it; its headers
 * win on conflict and its status is kept.
 *
 * @example
 * createHTTPServer({ router: appRouter, createContext, responseMeta: safeguardsResponseMeta() });
 */
export function safeguardsResponseMeta<TRouter extends AnyTRPCRouter>(
  inner?: ResponseMetaFn<TRouter>,
): ResponseMetaFn<TRouter> {
  return (opts: ResponseMetaOptions<TRouter>): ResponseMeta => {
    const own = safeguardsHeaders(opts.ctx, opts.errors, opts.type);
    const theirs = inner?.(opts);
    const headers = new Headers(own);
    // A status of their own that is not a 429 or 503 asks for no retry wait.
    if (theirs?.status !== undefined && theirs.status !== 429 && theirs.status !== 503)
      headers.delete('retry-after');
    if (theirs?.headers) {
      for (const [name, value] of new Headers(theirs.headers as HeadersInit)) headers.set(name, value);
    }
    return { ...(theirs?.status === undefined ? {} : { status: theirs.status }), headers };
  };
}
