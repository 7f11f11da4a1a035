import { type Summary, summarize } from './stats.js';

/**
 * What a load balancer's health checks met during a run: `/api/health`, whose database probe runs on
 * the CRITICAL reserve, asked at a steady rate beside the load. Its latency is how long the process
 * takes to answer urgent work when it is busiest (issue 15: CRITICAL p99 under overload).
 */
export interface HealthProbeReport {
  sent: number;
  /** Answered 200 (healthy) or 206 (degraded): the process took the check. */
  answered: number;
  /** Answers by HTTP status, failures to answer as `network` or `timeout`. */
  outcomes: Record<string, number>;
  /** Latency of the answered checks. */
  latencyMs: Summary;
}

export interface HealthProber {
  stop(): Promise<HealthProbeReport>;
}

/** Asks `${url}/api/health` every `intervalMs` (each check gets `timeoutMs`) until stopped. */
export function probeHealth(url: string, intervalMs = 100, timeoutMs = 10_000): HealthProber {
  const latencies: number[] = [];
  const outcomes: Record<string, number> = {};
  const pending = new Set<Promise<void>>();
  let sent = 0;
  const check = () => {
    sent++;
    const started = performance.now();
    const done: Promise<void> = fetch(`${url}/api/health`, { signal: AbortSignal.timeout(timeoutMs) })
      .then(async (response) => {
        await response.arrayBuffer();
        outcomes[response.status] = (outcomes[response.status] ?? 0) + 1;
        if (response.status === 200 || response.status === 206) latencies.push(performance.now() - started);
      })
      .catch((error: unknown) => {
        const kind = error instanceof Error && error.name === 'TimeoutError' ? 'timeout' : 'network';
        outcomes[kind] = (outcomes[kind] ?? 0) + 1;
      })
      .finally(() => pending.delete(done));
    pending.add(done);
  };
  const timer = setInterval(check, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(pending);
      return { sent, answered: latencies.length, outcomes, latencyMs: summarize(latencies) };
    },
  };
}
