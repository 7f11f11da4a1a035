import { useSyncExternalStore } from 'react';
import { toFriendlyError } from './friendly-error.js';

/** A notice across the top of every page: the app is answering, but not fully. */
export interface AppStatusNotice {
  kind: 'read-only' | 'recovering' | 'stale';
  message: string;
  /** When the notice stops applying, as far as the server said (epoch ms); undefined: until cleared. */
  until: number | undefined;
}

const listeners = new Set<() => void>();
let notice: AppStatusNotice | null = null;
let expiry: ReturnType<typeof setTimeout> | undefined;

function publish(next: AppStatusNotice | null): void {
  if (expiry !== undefined) clearTimeout(expiry);
  expiry = undefined;
  notice = next;
  if (next?.until !== undefined)
    expiry = setTimeout(() => publish(null), Math.max(0, next.until - Date.now()));
  for (const listener of listeners) listener();
}

/**
 * A result the server marks as degraded: `{ degraded: true }`, with the time its data is from when it
 * is a saved copy (`asOf` or `staleAt`). Stale reads and writes accepted for later will come back
 * this way; the banner shows them without a change here.
 */
function degradedResultTime(data: unknown): Date | null | undefined {
  if (typeof data !== 'object' || data === null || (data as { degraded?: unknown }).degraded !== true)
    return undefined;
  const { asOf, staleAt } = data as { asOf?: unknown; staleAt?: unknown };
  const time = asOf ?? staleAt;
  return time instanceof Date ? time : typeof time === 'string' ? new Date(time) : null;
}

const clock = (time: Date) => time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/**
 * The app-wide notice, fed by every query and mutation (the query client's caches call
 * {@link noteError} and {@link noteSuccess}): read-only and recovery notices come from errors'
 * `userFriendly` data (`degraded`, an open breaker), and last as long as the server said they would.
 */
export const appStatus = {
  get: (): AppStatusNotice | null => notice,
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  noteError(error: unknown): void {
    const friendly = toFriendlyError(error);
    if (friendly.origin !== 'server') return;
    const until = Date.now() + (friendly.retryAfterMs ?? 10_000);
    if (friendly.reason === 'read-only') publish({ kind: 'read-only', message: friendly.message, until });
    else if (friendly.degraded || friendly.type === 'CIRCUIT_BREAKER')
      publish({
        kind: 'recovering',
        message: 'VetMed is recovering from a problem. Some things may not work for a moment.',
        until,
      });
  },
  noteSuccess(data: unknown, kind: 'query' | 'mutation'): void {
    const staleTime = degradedResultTime(data);
    if (staleTime !== undefined)
      publish({
        kind: 'stale',
        message: staleTime
          ? `VetMed is recovering from a problem: showing data from ${clock(staleTime)}.`
          : 'VetMed is recovering from a problem: some of what you see may be out of date.',
        until: undefined,
      });
    // A write that went through ends a read-only notice; a fresh read ends a stale one.
    else if (notice && (kind === 'mutation' || notice.kind === 'stale')) publish(null);
  },
};

/** The current notice, re-rendering when it changes. */
export function useAppStatus(): AppStatusNotice | null {
  return useSyncExternalStore(appStatus.subscribe, appStatus.get);
}
