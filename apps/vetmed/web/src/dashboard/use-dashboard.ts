import { useQuery } from '@tanstack/react-query';
import { useRef } from 'react';
import type { DashboardSample, DashboardSnapshot } from '../../../src/server/dashboard-types.js';
import { AdminRequestError, adminRequest } from './admin-api.js';

/** Seconds of history the charts show (the server keeps as many). */
export const historySeconds = 300;

/**
 * The dashboard's data, polled every second: `GET /api/admin/dashboard?since=<last sample>`, so each
 * poll carries only the seconds since the last one and the history is kept here. Polling rather than
 * server-sent events because the admin token travels in a header, which `EventSource` cannot send.
 * A hidden tab stops polling.
 */
export function useDashboard(token: string, live: boolean) {
  const history = useRef<DashboardSample[]>([]);
  return useQuery({
    queryKey: ['admin-dashboard', token],
    queryFn: async ({ signal }): Promise<DashboardSnapshot> => {
      const last = history.current.at(-1)?.at;
      const snapshot = await adminRequest<DashboardSnapshot>(
        `/api/admin/dashboard${last === undefined ? '' : `?since=${last}`}`,
        { token, signal },
      );
      // A restarted server's samples start afresh.
      if (snapshot.history.length > 0 && last !== undefined && snapshot.history[0]!.at <= last)
        history.current = [];
      history.current = [...history.current, ...snapshot.history].slice(-historySeconds);
      return { ...snapshot, history: history.current };
    },
    refetchInterval: live ? 1000 : false,
    refetchIntervalInBackground: false,
    // A refused token is not worth retrying; a network blip is worth one retry, then the next poll.
    retry: (failures, error) =>
      failures < 1 && !(error instanceof AdminRequestError && error.status !== undefined),
    staleTime: 0,
    gcTime: 0,
  });
}
