import { getUserFriendlyError, type UserFriendlyErrorData } from '@db-safeguards/trpc/client';

/** The server's own `userFriendly` error: its closed `type` and `reason`, its message, its error ID. */
export type ServerError = UserFriendlyErrorData & { origin: 'server' };

/**
 * An error the page describes itself, because no answer of the app came with it: the request got no
 * answer (`network`: offline, a dropped connection, a proxy's own error page), or the page itself
 * failed (`page`). Its `reason` is the client's, not one of the server's.
 */
export interface ClientError {
  origin: 'network' | 'page';
  type: 'CONNECTION' | 'INTERNAL';
  reason: 'no-answer' | 'page-error';
  message: string;
  suggestedActions: string[];
  retryable: boolean;
  retryAfterMs: null;
  /** No server saw it: nothing to quote to support. */
  errorId: undefined;
  degraded: false;
  issues?: undefined;
}

/**
 * What the page shows for an error: the server's `userFriendly` data when it answered, else one of
 * the client's own. Never an error's raw message: those are for developers and the server's log.
 */
export type FriendlyError = ServerError | ClientError;

/** A request that got no usable answer: offline, a dropped connection, a proxy's HTML error page. */
function isTransportFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name, message } = error as { name?: unknown; message?: unknown };
  // A tRPC call whose answer carried no userFriendly data never got the app's answer.
  if (name === 'TRPCClientError') return true;
  return name === 'TypeError' && /fetch|network|load failed/i.test(String(message));
}

const networkError: ClientError = {
  origin: 'network',
  type: 'CONNECTION',
  reason: 'no-answer',
  message: "We couldn't reach VetMed.",
  suggestedActions: ['Check your connection. We will keep trying.'],
  retryable: true,
  retryAfterMs: null,
  errorId: undefined,
  degraded: false,
};

const pageError: ClientError = {
  origin: 'page',
  type: 'INTERNAL',
  reason: 'page-error',
  message: 'Something went wrong on this page.',
  suggestedActions: ['Reload the page. If it happens again, tell us what you were doing.'],
  retryable: false,
  retryAfterMs: null,
  errorId: undefined,
  degraded: false,
};

/** The error as the person should see it. */
export function toFriendlyError(error: unknown): FriendlyError {
  const fromServer = getUserFriendlyError(error);
  if (fromServer) return { ...fromServer, origin: 'server' };
  return isTransportFailure(error) ? networkError : pageError;
}
