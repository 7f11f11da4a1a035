/**
 * An HTTP answer with no tRPC body (a 413 from the body limit, a proxy's 502 page): tRPC's client
 * cannot parse it and would lose the status, so the load tool's fetch throws this instead, and
 * the TRPCClientError it becomes keeps it as its `cause`.
 */
export class HttpStatusError extends Error {
  override readonly name = 'HttpStatusError';

  constructor(readonly status: number) {
    super(`HTTP ${status} without a tRPC body`);
  }
}

/** `fetch`, except that a failed answer whose body is not JSON rejects with an {@link HttpStatusError}. */
export async function fetchKeepingStatus(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const response = await fetch(input, init);
  if (!response.ok && !(response.headers.get('content-type') ?? '').includes('json')) {
    await response.body?.cancel();
    throw new HttpStatusError(response.status);
  }
  return response;
}
