import { useSyncExternalStore } from 'react';

/**
 * The admin token, in sessionStorage: it opens the emergency controls, so it is kept for this tab
 * only and forgotten when the tab closes.
 */
const storageKey = 'vetmed.adminToken';
const listeners = new Set<() => void>();
let token = sessionStorage.getItem(storageKey);

export const adminToken = {
  get: (): string | null => token,
  set(next: string | null): void {
    token = next;
    if (next) sessionStorage.setItem(storageKey, next);
    else sessionStorage.removeItem(storageKey);
    for (const listener of listeners) listener();
  },
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

export function useAdminToken(): string | null {
  return useSyncExternalStore(adminToken.subscribe, adminToken.get);
}

/** A refused admin request: 401 (wrong token), 404 (admin routes off), or the network. */
export class AdminRequestError extends Error {
  override readonly name = 'AdminRequestError';
  constructor(
    readonly status: number | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** Calls an admin route with the token; the JSON answer, or an AdminRequestError. */
export async function adminRequest<T>(
  path: string,
  options: { method?: 'GET' | 'POST'; token: string; signal?: AbortSignal },
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method: options.method ?? 'GET',
      headers: { authorization: `Bearer ${options.token}` },
      cache: 'no-store',
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if ((error as { name?: string }).name === 'AbortError') throw error;
    throw new AdminRequestError(undefined, 'The app did not answer. Is it running?');
  }
  const body = (await response.json().catch(() => ({}))) as { error?: unknown };
  if (!response.ok) {
    const reason =
      response.status === 401
        ? 'That admin token was refused.'
        : response.status === 404 && typeof body.error === 'string'
          ? body.error
          : `The app answered ${response.status}.`;
    throw new AdminRequestError(response.status, reason);
  }
  return body as T;
}
