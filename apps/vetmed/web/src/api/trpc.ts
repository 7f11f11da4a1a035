import { MutationCache, QueryCache, QueryClient } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import superjson from 'superjson';
import type { AppRouter } from './app-router.js';
import { appStatus } from './app-status.js';
import { toFriendlyError } from './friendly-error.js';
import { queryRetryPolicy, retryOptions } from './retry-policy.js';
import { sessionStore } from './session.js';

/** `useTRPC()` gives typed query and mutation options for every procedure of the app's router. */
export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

/**
 * The tRPC client: calls made in the same tick share one HTTP request (at most 10 per batch), and
 * every request carries the session's bearer token.
 */
export function createApiClient() {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: '/api/trpc',
        transformer: superjson,
        maxItems: 10,
        headers() {
          const token = sessionStore.get()?.token;
          return token ? { authorization: `Bearer ${token}` } : {};
        },
      }),
    ],
  });
}

/** An expired or revoked session: back to the sign-in page. */
function signOutWhenUnauthenticated(error: unknown): void {
  const friendly = toFriendlyError(error);
  if (friendly.origin === 'server' && friendly.type === 'AUTHENTICATION' && sessionStore.get())
    sessionStore.set(null);
}

/**
 * The query client: reads are retried where the server says it is worth it (`retryable`, after its
 * `retryAfterMs`), mutations never unless they opt in (idempotent ones); every outcome feeds the
 * app-wide status notice.
 */
export function createAppQueryClient(): QueryClient {
  return new QueryClient({
    queryCache: new QueryCache({
      onError(error) {
        appStatus.noteError(error);
        signOutWhenUnauthenticated(error);
      },
      onSuccess: (data) => appStatus.noteSuccess(data, 'query'),
    }),
    mutationCache: new MutationCache({
      onError(error) {
        appStatus.noteError(error);
        signOutWhenUnauthenticated(error);
      },
      onSuccess: (data) => appStatus.noteSuccess(data, 'mutation'),
    }),
    defaultOptions: {
      queries: { ...retryOptions(queryRetryPolicy), staleTime: 10_000 },
      mutations: { retry: false },
    },
  });
}
