import type { AppProcessLoad } from './app-process-sampler.js';
import type { HealthProbeReport } from './health-prober.js';
import type { OpenLoopResult, RequestRecord } from './open-loop.js';
import { type Summary, summarize } from './stats.js';

const priorities = ['HIGH', 'NORMAL', 'LOW', 'BATCH'] as const;

export interface PriorityReport {
  sent: number;
  ok: number;
  /** Latency of successful requests only. */
  latencyMs: Summary;
  /** Latency of failed requests (UNFINISHED ones: until the tool stopped waiting). */
  failedLatencyMs: Summary;
  errors: Record<string, number>;
}

export interface LoadReport {
  target: string;
  ratePerSecond: number;
  /** The run window: arrivals were sent during it. */
  durationMs: number;
  /** From the first arrival to the last answer (or the end of the drain window). */
  elapsedMs: number;
  users: number;
  /** Requests sent; every one is counted as ok, failed or unfinished. */
  sent: number;
  ok: number;
  /** Failed requests, UNFINISHED ones included. */
  failed: number;
  /** Requests with no answer by the end of the drain window (also in `failed`, as UNFINISHED). */
  unfinished: number;
  droppedByClient: number;
  /** Successful requests per second that completed inside the run window (goodput). */
  throughput: number;
  byPriority: Record<(typeof priorities)[number], PriorityReport>;
  errorsByType: Record<string, number>;
  /** The failures the server typed CONNECTION, by their reason. */
  connectionReasons: Record<string, number>;
  rateLimited: number;
  shed: number;
  peakDbConnections: number | null;
  /** The app process's own CPU and event-loop lag during the run, when its metrics could be read. */
  appProcess: AppProcessLoad | null;
  /** Health checks asked beside the load (CRITICAL work), when the tool started the app. */
  health: HealthProbeReport | null;
  /** p95 latency (ms) of successful requests per priority, by the second they were sent in. */
  timeline: Array<{ second: number } & Partial<Record<(typeof priorities)[number], number>>>;
}

function count(
  records: readonly RequestRecord[],
  key: (record: RequestRecord) => string | undefined,
): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const record of records) {
    const value = key(record);
    if (value !== undefined) counts[value] = (counts[value] ?? 0) + 1;
  }
  return counts;
}

export function buildLoadReport(
  result: OpenLoopResult,
  info: {
    target: string;
    ratePerSecond: number;
    users: number;
    peakDbConnections: number | null;
    appProcess: AppProcessLoad | null;
    health?: HealthProbeReport | null;
  },
): LoadReport {
  const { records } = result;
  const ok = records.filter((record) => record.ok);
  const okInWindow = ok.filter((record) => record.completedAtMs <= result.durationMs).length;
  const byPriority = Object.fromEntries(
    priorities.map((priority) => {
      const mine = records.filter((record) => record.priority === priority);
      return [
        priority,
        {
          sent: mine.length,
          ok: mine.filter((record) => record.ok).length,
          latencyMs: summarize(mine.filter((record) => record.ok).map((record) => record.latencyMs)),
          failedLatencyMs: summarize(mine.filter((record) => !record.ok).map((record) => record.latencyMs)),
          errors: count(mine, (record) => (record.ok ? undefined : record.errorType)),
        },
      ];
    }),
  ) as LoadReport['byPriority'];
  const seconds = Math.ceil(result.durationMs / 1000);
  const timeline: LoadReport['timeline'] = [];
  for (let second = 0; second < seconds; second++) {
    const point: LoadReport['timeline'][number] = { second };
    for (const priority of priorities) {
      const inSecond = ok.filter(
        (record) => record.priority === priority && Math.floor(record.sentAtMs / 1000) === second,
      );
      if (inSecond.length > 0)
        point[priority] = Math.round(summarize(inSecond.map((record) => record.latencyMs)).p95);
    }
    timeline.push(point);
  }
  return {
    ...info,
    health: info.health ?? null,
    durationMs: result.durationMs,
    elapsedMs: result.elapsedMs,
    sent: records.length,
    ok: ok.length,
    failed: records.length - ok.length,
    unfinished: records.filter((record) => record.errorType === 'UNFINISHED').length,
    droppedByClient: result.droppedByClient,
    throughput: okInWindow / (result.durationMs / 1000),
    byPriority,
    errorsByType: count(records, (record) => (record.ok ? undefined : record.errorType)),
    connectionReasons: count(records, (record) =>
      !record.ok && record.errorType === 'CONNECTION' ? (record.reason ?? 'unknown') : undefined,
    ),
    rateLimited: records.filter((record) => record.errorType === 'RATE_LIMIT').length,
    shed: records.filter((record) => record.errorType === 'QUEUE_FULL').length,
    timeline,
  };
}

const pad = (text: string | number, width: number) => String(text).padStart(width);

/** The report as a terminal table. */
export function formatLoadReport(report: LoadReport): string {
  const lines = [
    `target ${report.target}: ${report.ratePerSecond} req/s for ${report.durationMs / 1000} s (${(report.elapsedMs / 1000).toFixed(1)} s with the stragglers), ${report.users} users`,
    `sent ${report.sent}, ok ${report.ok}, failed ${report.failed} (unfinished ${report.unfinished}), dropped by the client ${report.droppedByClient}; throughput ${report.throughput.toFixed(1)} ok/s completed within the ${report.durationMs / 1000} s`,
    `rate-limited ${report.rateLimited}, shed ${report.shed}, peak database connections ${report.peakDbConnections ?? 'n/a'}`,
    report.appProcess
      ? `app process: CPU ${report.appProcess.cpuCoresMean.toFixed(2)} cores on average (peak ${report.appProcess.cpuCoresPeak.toFixed(2)}), event-loop lag p99 up to ${report.appProcess.eventLoopLagP99MsPeak.toFixed(0)} ms`
      : 'app process: n/a (its metrics were not readable)',
    report.health
      ? `health checks (CRITICAL) beside the load: ${report.health.answered} of ${report.health.sent} answered, p50 ${report.health.latencyMs.p50.toFixed(0)} ms, p99 ${report.health.latencyMs.p99.toFixed(0)} ms (${Object.entries(
          report.health.outcomes,
        )
          .map(([outcome, n]) => `${outcome} ×${n}`)
          .join(', ')})`
      : 'health checks: not asked',
    '',
    `${''.padEnd(23)}${'ok only'.padEnd(27)}failed`,
    `${'priority'.padEnd(9)}${pad('sent', 7)}${pad('ok', 7)}${pad('p50 ms', 9)}${pad('p95 ms', 9)}${pad('p99 ms', 9)}${pad('p99 ms', 9)}  errors`,
  ];
  for (const [priority, row] of Object.entries(report.byPriority)) {
    const errors =
      Object.entries(row.errors)
        .map(([type, n]) => `${type} ${n}`)
        .join(', ') || '-';
    lines.push(
      `${priority.padEnd(9)}${pad(row.sent, 7)}${pad(row.ok, 7)}${pad(row.latencyMs.p50.toFixed(0), 9)}${pad(row.latencyMs.p95.toFixed(0), 9)}${pad(row.latencyMs.p99.toFixed(0), 9)}${pad(row.failedLatencyMs.count === 0 ? '-' : row.failedLatencyMs.p99.toFixed(0), 9)}  ${errors}`,
    );
  }
  return lines.join('\n');
}

const colours = { HIGH: '#d62728', NORMAL: '#1f77b4', LOW: '#2ca02c', BATCH: '#9467bd' } as const;

/** p95 latency per priority over time, as a small standalone SVG line chart. */
export function renderLatencySvg(report: LoadReport): string {
  const width = 720;
  const height = 320;
  const margin = { left: 60, right: 110, top: 30, bottom: 40 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const seconds = Math.max(1, report.timeline.length);
  const maxLatency = Math.max(
    1,
    ...report.timeline.flatMap((point) => priorities.map((priority) => point[priority] ?? 0)),
  );
  const x = (second: number) => margin.left + (second / Math.max(1, seconds - 1)) * plotWidth;
  const y = (ms: number) => margin.top + plotHeight - (ms / maxLatency) * plotHeight;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${margin.left}" y="18" font-size="14">p95 latency per priority (${report.target}, ${report.ratePerSecond} req/s)</text>`,
    `<line x1="${margin.left}" y1="${margin.top + plotHeight}" x2="${margin.left + plotWidth}" y2="${margin.top + plotHeight}" stroke="black"/>`,
    `<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${margin.top + plotHeight}" stroke="black"/>`,
    `<text x="${margin.left - 8}" y="${margin.top + 4}" text-anchor="end">${Math.round(maxLatency)} ms</text>`,
    `<text x="${margin.left - 8}" y="${margin.top + plotHeight}" text-anchor="end">0</text>`,
    `<text x="${margin.left + plotWidth / 2}" y="${height - 8}" text-anchor="middle">seconds into the run</text>`,
  ];
  priorities.forEach((priority, index) => {
    const points = report.timeline
      .filter((point) => point[priority] !== undefined)
      .map((point) => `${x(point.second).toFixed(1)},${y(point[priority]!).toFixed(1)}`);
    if (points.length > 0)
      parts.push(
        `<polyline fill="none" stroke="${colours[priority]}" stroke-width="2" points="${points.join(' ')}"/>`,
      );
    parts.push(
      `<rect x="${width - margin.right + 15}" y="${margin.top + index * 20}" width="12" height="12" fill="${colours[priority]}"/>`,
    );
    parts.push(
      `<text x="${width - margin.right + 32}" y="${margin.top + index * 20 + 11}">${priority}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
