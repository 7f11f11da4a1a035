import { getUserFriendlyError } from '@db-safeguards/trpc/client';
import { HttpStatusError } from './http-status-error.js';

/** How a failed request is counted: the server's error type, else its HTTP status, else NETWORK. */
export interface FailureDescription {
  /** `userFriendly.type` (e.g. QUEUE_FULL), `HTTP_<status>` for an answer without it (a 413 from the body limit, a proxy's 502), or NETWORK when no answer came. */
  errorType: string;
  reason?: string;
  status?: number;
}

/** The HTTP status of a tRPC client error: from its data, its response, or the answer it could not parse. */
function statusOf(error: unknown): number | undefined {
  const holder = error as {
    data?: { httpStatus?: unknown };
    meta?: { response?: { status?: unknown } };
    cause?: unknown;
  } | null;
  const status =
    holder?.data?.httpStatus ??
    holder?.meta?.response?.status ??
    (holder?.cause instanceof HttpStatusError ? holder.cause.status : undefined);
  return typeof status === 'number' ? status : undefined;
}

/** Classifies what a request failed with, for the load report. */
export function describeFailure(error: unknown): FailureDescription {
  const friendly = getUserFriendlyError(error);
  const status = statusOf(error);
  return {
    errorType: friendly?.type ?? (status === undefined ? 'NETWORK' : `HTTP_${status}`),
    ...(friendly ? { reason: friendly.reason } : {}),
    ...(status === undefined ? {} : { status }),
  };
}
