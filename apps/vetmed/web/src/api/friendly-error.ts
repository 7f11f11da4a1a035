import { getUserFriendlyError, type UserFriendlyErrorData } from '@db-safeguards/trpc/client';

/**
 * What the page shows for an error: the server's `userFriendly` data when it answered, else one of
 * the client's own for the cases where no answer came (`origin` says which). Never an error's raw
 * message: those are for developers and the server's log.
 */
export interface FriendlyError extends Omit<UserFriendlyErrorData, 'errorId'> {
  /** The server's error ID, to quote to support; undefined when the server was not reached. */
  errorId: string | undefined;
  origin: 'server' | 'network' | 'page';
}

/** A request that got no usable answer: offline, a dropped connection, a proxy's HTML error page. */
function isTransportFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name, message } = error as { name?: unknown; message?: unknown };
  // A tRPC call whose answer carried no userFriendly data never got the app's answer.
  if (name === 'TRPCClientError') return true;
  return name === 'TypeError' && /fetch|network|load failed/i.test(String(message));
}

const networkError: Omit<FriendlyError, 'errorId' | 'origin'> = {
  type: 'CONNECTION',
  reason: 'network',
  message: "We couldn't reach VetMed.",
  suggestedActions: ['Check your connection. We will keep trying.'],
  retryable: true,
  retryAfterMs: null,
  degraded: false,
};

const pageError: Omit<FriendlyError, 'errorId' | 'origin'> = {
  type: 'INTERNAL',
  reason: 'page-error',
  message: 'Something went wrong on this page.',
  suggestedActions: ['Reload the page. If it happens again, tell us what you were doing.'],
  retryable: false,
  retryAfterMs: null,
  degraded: false,
};

/** The error as the person should see it. */
export function toFriendlyError(error: unknown): FriendlyError {
  const fromServer = getUserFriendlyError(error);
  if (fromServer) return { ...fromServer, origin: 'server' };
  if (isTransportFailure(error)) return { ...networkError, errorId: undefined, origin: 'network' };
  return { ...pageError, errorId: undefined, origin: 'page' };
}
