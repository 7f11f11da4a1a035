import { classifyError } from '@db-safeguards/core';
import { type Summary, summarize } from '../loadtest/stats.js';

/** How one run of a workload went. */
export interface WorkloadResult {
  durationMs: number;
  ok: number;
  /** Failures by classified reason (e.g. `too-many-connections`, `shed`). */
  errors: Record<string, number>;
  /** Failures by classified type (`CONNECTION`, `QUEUE_FULL`, ...): what the connection-error target counts. */
  errorsByType: Record<string, number>;
  /** The failures classified CONNECTION, by reason: what the report quotes when that target is missed. */
  connectionReasons: Record<string, number>;
  /** Failures whose SQLSTATE is 53300: what a client of a naive app sees. */
  tooManyConnections: number;
  latencyMs: Summary;
  throughput: number;
}

type FailureCounts = Pick<WorkloadResult, 'errors' | 'errorsByType' | 'connectionReasons'>;

const noFailures = (): FailureCounts => ({ errors: {}, errorsByType: {}, connectionReasons: {} });

/** Counts a failure by reason and by type; true when it was a refused connection (53300). */
function record(stat: FailureCounts, error: unknown): boolean {
  const classified = classifyError(error);
  stat.errors[classified.reason] = (stat.errors[classified.reason] ?? 0) + 1;
  stat.errorsByType[classified.type] = (stat.errorsByType[classified.type] ?? 0) + 1;
  if (classified.type === 'CONNECTION')
    stat.connectionReasons[classified.reason] = (stat.connectionReasons[classified.reason] ?? 0) + 1;
  return classified.reason === 'too-many-connections';
}

/** `concurrency` callers, each running `operation` back to back for `durationMs`. */
export async function closedLoop(
  concurrency: number,
  durationMs: number,
  operation: () => Promise<unknown>,
): Promise<WorkloadResult> {
  const latencies: number[] = [];
  const counts = noFailures();
  let tooManyConnections = 0;
  const started = performance.now();
  const end = started + durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      try {
        await operation();
        latencies.push(performance.now() - t);
      } catch (error) {
        if (record(counts, error)) tooManyConnections++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = performance.now() - started;
  return {
    durationMs: elapsed,
    ok: latencies.length,
    ...counts,
    tooManyConnections,
    latencyMs: summarize(latencies),
    throughput: latencies.length / (elapsed / 1000),
  };
}

/** An arrival class of an open-loop run: its share of arrivals and what it runs. */
export interface ArrivalClass {
  name: string;
  share: number;
  operation: () => Promise<unknown>;
}

export interface OpenLoopResult {
  offeredPerSecond: number;
  byClass: Record<string, WorkloadResult & { sent: number }>;
  tooManyConnections: number;
}

/**
 * Starts requests at `ratePerSecond` for `durationMs` whatever the completions (so the offered load
 * can exceed capacity), classes interleaved by share, then waits for all of them.
 */
export async function openLoop(
  ratePerSecond: number,
  durationMs: number,
  classes: readonly ArrivalClass[],
): Promise<OpenLoopResult> {
  const total = classes.reduce((sum, c) => sum + c.share, 0);
  const stats = classes.map(() => ({
    sent: 0,
    latencies: [] as number[],
    ...noFailures(),
    tooManyConnections: 0,
  }));
  const pending: Array<Promise<void>> = [];
  const credit = classes.map(() => 0);
  const started = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = Math.min(performance.now() - started, durationMs);
      const due = Math.floor((elapsed * ratePerSecond) / 1000);
      while (sent < due) {
        // Weighted round robin: the class furthest behind its share goes next.
        let pick = 0;
        for (let i = 0; i < classes.length; i++) {
          credit[i]! += classes[i]!.share / total;
          if (credit[i]! > credit[pick]!) pick = i;
        }
        credit[pick]! -= 1;
        const cls = classes[pick]!;
        const stat = stats[pick]!;
        stat.sent++;
        sent++;
        const t = performance.now();
        pending.push(
          cls.operation().then(
            () => {
              stat.latencies.push(performance.now() - t);
            },
            (error: unknown) => {
              if (record(stat, error)) stat.tooManyConnections++;
            },
          ),
        );
      }
      if (performance.now() - started >= durationMs) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  await Promise.all(pending);
  const elapsed = performance.now() - started;
  const byClass: OpenLoopResult['byClass'] = {};
  classes.forEach((cls, i) => {
    const stat = stats[i]!;
    byClass[cls.name] = {
      sent: stat.sent,
      durationMs: elapsed,
      ok: stat.latencies.length,
      errors: stat.errors,
      errorsByType: stat.errorsByType,
      connectionReasons: stat.connectionReasons,
      tooManyConnections: stat.tooManyConnections,
      latencyMs: summarize(stat.latencies),
      throughput: stat.latencies.length / (elapsed / 1000),
    };
  });
  return {
    offeredPerSecond: ratePerSecond,
    byClass,
    tooManyConnections: stats.reduce((sum, s) => sum + s.tooManyConnections, 0),
  };
}

/** One caller, one operation at a time: the latency of an idle system. */
export async function unloadedLatency(count: number, operation: () => Promise<unknown>): Promise<Summary> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await operation();
    latencies.push(performance.now() - t);
  }
  return summarize(latencies);
}
