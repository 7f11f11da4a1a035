import type { RequestIdentity } from '@db-safeguards/core';
import { addressGroup } from './address-group.js';
import { clientIp, type RequestAddressInfo, type TrustProxy } from './client-ip.js';

interface RequestLike {
  /** A Node `IncomingMessage` has its socket; a Fetch `Request` has none. */
  socket?: { remoteAddress?: string | undefined } | null;
  headers: RequestAddressInfo['headers'];
}

function isRequestLike(value: unknown): value is RequestLike {
  const headers = (value as { headers?: unknown } | null | undefined)?.headers;
  return typeof headers === 'object' && headers !== null;
}

/**
 * The client IP a request shows: a Node `IncomingMessage` has its socket's peer (and X-Forwarded-For,
 * read as `trustProxy` says); a Fetch `Request` has no peer, so only a trusted X-Forwarded-For gives
 * one there. Undefined when neither does.
 */
function requestIp(request: unknown, trustProxy: TrustProxy): string | undefined {
  if (!isRequestLike(request)) return undefined;
  return clientIp(
    { remoteAddress: request.socket?.remoteAddress ?? undefined, headers: request.headers },
    trustProxy,
  );
}

/**
 * @internal The identity to rate-limit by: only `userId`, `tenantId` and `ip` of what `identify`
 * returned (it may hand back more: the README's `identify: (ctx) => ctx` returns the whole context,
 * and a `deadline`, `priority`, `policy` or `signal` on it must not slip into the run context), and
 * the request's own client IP when `identify` gave none.
 */
export function requestIdentity(
  given: RequestIdentity | undefined,
  request: unknown,
  trustProxy: TrustProxy,
): RequestIdentity {
  const identity: RequestIdentity = {};
  if (given?.userId !== undefined) identity.userId = given.userId;
  if (given?.tenantId !== undefined) identity.tenantId = given.tenantId;
  const ip = given?.ip ?? requestIp(request, trustProxy);
  // IPv6 clients are limited per /64: one subscriber holds a whole /64 and could rotate addresses.
  if (ip !== undefined) identity.ip = addressGroup(ip);
  return identity;
}
