import type { LoadReport } from '../loadtest/load-report.js';
import type { ReportData } from './report-data.js';

/** Goodput under overload must stay this close to what the same app served comfortably. */
export const goodputTarget = 0.95;
/** HIGH p99 under overload may be at most this multiple of its comfortable p99 (the urgent-latency target). */
export const highLatencyTarget = 3;
/** Health checks (CRITICAL) under overload: p99 at most this multiple of the comfortable run's. */
export const criticalLatencyTarget = 2;

/** The sample app at a rate it serves and far above it, judged against each other. */
export interface SampleAppOverload {
  comfortable: LoadReport;
  overload: LoadReport;
  /** Every overload run's figures, in the order run (one entry when it ran once). */
  runs: Array<{ goodput: number; highMultiple: number; criticalMultiple: number | undefined }>;
  /** Offered rate of the overload run over the comfortable one's. */
  factor: number;
  /** Overload goodput over comfortable goodput. */
  goodput: number;
  goodputMet: boolean;
  /** Overload HIGH p99 over comfortable HIGH p99. */
  highMultiple: number;
  highMet: boolean;
  /** Overload health-check p99 over the comfortable run's; undefined when either run asked none. */
  criticalMultiple: number | undefined;
  criticalMet: boolean;
  /** Why a target was missed, in sentences built from the two runs' figures. */
  goodputWhy: string;
  highWhy: string;
  criticalWhy: string;
}

const n = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** "1,800 TIMEOUT, 900 QUEUE_FULL": counts by type, largest first. */
export function countsByType(counts: Readonly<Record<string, number>>): string {
  const entries = Object.entries(counts)
    .filter(([, count]) => count > 0)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  return entries.length === 0 ? 'none' : entries.map(([type, count]) => `${n(count)} ${type}`).join(', ');
}

/** The run whose HIGH p99 is the median of the runs' (the upper middle one of an even count). */
export function medianByHighP99(reports: readonly LoadReport[]): LoadReport {
  const sorted = [...reports].sort(
    (a, b) => a.byPriority.HIGH.latencyMs.p99 - b.byPriority.HIGH.latencyMs.p99,
  );
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Judges the overload run of the sample app against its comfortable run, or returns undefined when
 * the data has not both. Goodput: successes completed inside the run window per second.
 */
export function judgeSampleAppOverload(data: ReportData): SampleAppOverload | undefined {
  const comfortable = data.loadtests.find((run) => run.id === 'latency-comfortable')?.report;
  const overloadRun = data.loadtests.find((run) => run.id === 'latency-overload');
  const overload = overloadRun?.report;
  if (!comfortable || !overload) return undefined;
  const runs = overloadRun?.runs ?? [overload];
  const factor = overload.ratePerSecond / comfortable.ratePerSecond;
  const goodput = comfortable.throughput === 0 ? 0 : overload.throughput / comfortable.throughput;
  const comfortableHigh = comfortable.byPriority.HIGH.latencyMs.p99;
  const overloadHigh = overload.byPriority.HIGH.latencyMs.p99;
  const highMultiple = comfortableHigh === 0 ? Number.POSITIVE_INFINITY : overloadHigh / comfortableHigh;
  const peak =
    overload.peakDbConnections === null ? '' : ` Peak database connections: ${overload.peakDbConnections}.`;
  const high = overload.byPriority.HIGH;
  const bottleneck = appProcessBottleneck(comfortable, overload);
  const goodputOf = (run: LoadReport) =>
    comfortable.throughput === 0 ? 0 : run.throughput / comfortable.throughput;
  const highMultipleOf = (run: LoadReport) =>
    comfortableHigh === 0 ? Number.POSITIVE_INFINITY : run.byPriority.HIGH.latencyMs.p99 / comfortableHigh;
  const comfortableCritical = comfortable.health?.answered ? comfortable.health.latencyMs.p99 : undefined;
  const criticalMultipleOf = (run: LoadReport) =>
    comfortableCritical === undefined || !run.health?.answered
      ? undefined
      : run.health.latencyMs.p99 / Math.max(1, comfortableCritical);
  const criticalMultiple = criticalMultipleOf(overload);
  const checks = overload.health;
  return {
    comfortable,
    overload,
    runs: runs.map((run) => ({
      goodput: goodputOf(run),
      highMultiple: highMultipleOf(run),
      criticalMultiple: criticalMultipleOf(run),
    })),
    factor,
    goodput,
    goodputMet: goodput >= goodputTarget,
    highMultiple,
    highMet: highMultiple <= highLatencyTarget,
    criticalMultiple,
    criticalMet:
      criticalMultiple !== undefined &&
      criticalMultiple <= criticalLatencyTarget &&
      checks !== null &&
      checks.answered === checks.sent,
    criticalWhy:
      checks === null || criticalMultiple === undefined
        ? 'No health checks were asked beside the load (an app not started by the tool).'
        : `Health checks (asked ten a second, as a load balancer does) answered at p99 in ${n(checks.latencyMs.p99)} ms at ${n(overload.ratePerSecond)} req/s against ${n(comfortableCritical ?? 0)} ms at ${n(comfortable.ratePerSecond)} req/s (${n(criticalMultiple, 1)}×); ${n(checks.answered)} of ${n(checks.sent)} answered (${countsByType(checks.outcomes)}). A check's answer is shared for a moment (the app's health cache), so its latency is the event loop's: how long the process takes to read a request and answer when it is busiest.${bottleneck}`,
    goodputWhy: `At ${n(overload.ratePerSecond)} req/s the app completed ${n(overload.throughput, 1)} requests a second inside the ${n(overload.durationMs / 1000)} s window, against ${n(comfortable.throughput, 1)} at ${n(comfortable.ratePerSecond)} req/s (${n(goodput, 2)}×). Of ${n(overload.sent)} requests ${n(overload.ok)} succeeded and ${n(overload.failed)} failed: ${countsByType(overload.errorsByType)}${overload.unfinished > 0 ? ` (${n(overload.unfinished)} had no answer when the tool stopped waiting)` : ''}.${peak}${bottleneck}`,
    highWhy: `HIGH (dose recordings) p99 was ${n(overloadHigh)} ms at ${n(overload.ratePerSecond)} req/s against ${n(comfortableHigh)} ms at ${n(comfortable.ratePerSecond)} req/s (${n(highMultiple, 1)}×); of ${n(high.sent)} HIGH requests ${n(high.ok)} succeeded, failures: ${countsByType(high.errors)}. The p99 covers successes only${high.failedLatencyMs.count > 0 ? `; the failed ones took up to ${n(high.failedLatencyMs.max)} ms (p99 ${n(high.failedLatencyMs.p99)} ms)` : ''}.${bottleneck}`,
  };
}

/** A process whose CPU averages at least this many cores is taken as CPU-bound (Node runs JS on one). */
export const cpuBoundCores = 0.85;
/** A one-second sample this high means the event loop was saturated during that second. */
export const cpuSaturatedPeak = 0.95;

/**
 * What the app process's own CPU says about the overload run, as a sentence (empty when its metrics
 * were not read): a single-threaded app near one core busy is limited by its event loop, which no
 * connection budget can relieve, and every request waits on it, refusals included.
 */
function appProcessBottleneck(comfortable: LoadReport, overload: LoadReport): string {
  const load = overload.appProcess;
  if (!load) return '';
  const before = comfortable.appProcess;
  const usage = `The app process used ${n(load.cpuCoresMean, 2)} cores on average (peak ${n(load.cpuCoresPeak, 2)})${before ? `, against ${n(before.cpuCoresMean, 2)} in the comfortable run` : ''}, and its event loop lagged up to ${n(load.eventLoopLagP99MsPeak)} ms at p99`;
  const connections =
    overload.peakDbConnections === null ? '' : ` (peak database connections ${overload.peakDbConnections})`;
  if (load.cpuCoresMean >= cpuBoundCores)
    return ` ${usage}: the app's own CPU, not the connection budget${connections}, is the limit at this rate on this machine; its answers, refusals included, wait for the event loop, and a slot stays taken until the loop gets to the query's answer.`;
  if (load.cpuCoresPeak >= cpuSaturatedPeak)
    return ` ${usage}: it reached a full core at its peak, so for part of the run the app's own CPU${connections} was the limit, and a slot stays taken until the event loop gets to the query's answer.`;
  return ` ${usage}.`;
}
