import type { UseQueryResult } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { ErrorNotice } from './error-notice.js';

export interface QueryViewProps<T, E> {
  query: UseQueryResult<T, E>;
  /** What is loading, for the loading text ("Loading animals…"). */
  what: string;
  children: (data: T) => ReactNode;
}

/**
 * A query's data, or why it is not there yet: loading, retrying after a failure (the failure and a
 * countdown to the retry), or failed (the error, retried by itself once the server's wait is over).
 * Data already shown stays when a later refresh fails, with the failure beside it.
 */
export function QueryView<T, E>({ query, what, children }: QueryViewProps<T, E>) {
  const retry = () => void query.refetch();
  const problem = query.isError ? (
    <ErrorNotice error={query.error} receivedAt={query.errorUpdatedAt} onRetry={retry} autoRetry />
  ) : query.failureReason ? (
    <ErrorNotice error={query.failureReason} />
  ) : null;
  if (query.data === undefined)
    return (
      <div aria-busy={query.isFetching}>
        {problem ?? (
          <p className="loading" role="status">
            Loading {what}…
          </p>
        )}
      </div>
    );
  return (
    <>
      {problem}
      {children(query.data)}
    </>
  );
}
