import type { LoadReport, PriorityReport } from '../loadtest/load-report.js';
import type { Summary } from '../loadtest/stats.js';
import type { OverloadRun, ThroughputCases } from './connection-cases.js';
import type { ReportData } from './report-data.js';
import type { OpenLoopResult, WorkloadResult } from './workloads.js';

/** A latency summary with the given p50 and p99 (p95 between them, max a little above). */
export function latency(p50: number, p99: number): Summary {
  return { count: 100, p50, p95: (p50 + p99) / 2, p99, max: p99 * 1.2, mean: p50 };
}

/** One closed-loop result at `throughput` ok/s over 5 s, without failures unless given. */
export function workload(throughput: number, extra: Partial<WorkloadResult> = {}): WorkloadResult {
  return {
    durationMs: 5000,
    ok: Math.round(throughput * 5),
    errors: {},
    errorsByType: {},
    connectionReasons: {},
    tooManyConnections: 0,
    latencyMs: latency(40, 55),
    throughput,
    ...extra,
  };
}

/** The six closed-loop cases, from their throughputs. */
export function throughputCases(
  ok: Record<
    'dedicated' | 'oneAtATime' | 'poolOnly' | 'safeguards' | 'safeguardsNoReserve' | 'naive',
    number
  >,
): ThroughputCases {
  return {
    dedicated: workload(ok.dedicated),
    oneAtATime: workload(ok.oneAtATime),
    poolOnly: workload(ok.poolOnly),
    safeguards: workload(ok.safeguards),
    safeguardsNoReserve: workload(ok.safeguardsNoReserve),
    naive: workload(ok.naive, {
      errors: { 'too-many-connections': 1000 },
      errorsByType: { CONNECTION: 1000 },
      connectionReasons: { 'too-many-connections': 1000 },
      tooManyConnections: 1000,
    }),
    rounds: 3,
    errorsByTypeAllRounds: {
      dedicated: {},
      oneAtATime: {},
      poolOnly: {},
      safeguards: {},
      safeguardsNoReserve: {},
      naive: { CONNECTION: 3000 },
    },
    connectionReasonsAllRounds: {
      dedicated: {},
      oneAtATime: {},
      poolOnly: {},
      safeguards: {},
      safeguardsNoReserve: {},
      naive: { 'too-many-connections': 3000 },
    },
  };
}

function openLoopClass(sent: number, ok: number, p99: number, errors: Record<string, number> = {}) {
  return { ...workload(ok / 5, { ok, errors, latencyMs: latency(p99 / 2, p99) }), sent };
}

/** An overload run through db-safeguards: urgent work served, BATCH and LOW shed. */
export function guardedOverload(): OpenLoopResult {
  return {
    offeredPerSecond: 7500,
    tooManyConnections: 0,
    byClass: {
      CRITICAL: openLoopClass(750, 750, 12),
      HIGH: openLoopClass(3000, 3000, 15),
      NORMAL: openLoopClass(11250, 2500, 470, { 'queue-full': 8750 }),
      LOW: openLoopClass(11250, 2, 7, { shed: 11248 }),
      BATCH: openLoopClass(11250, 2, 7, { shed: 11248 }),
    },
  };
}

function overloadRun(critical: number, high: number, extra: Partial<OverloadRun> = {}): OverloadRun {
  return {
    p99Ms: { CRITICAL: critical, HIGH: high },
    errorsByType: {},
    connectionReasons: {},
    eventLoopDelayP99Ms: 20,
    ...extra,
  };
}

function priorityReport(
  sent: number,
  ok: number,
  p99: number,
  errors: Record<string, number> = {},
): PriorityReport {
  return { sent, ok, latencyMs: latency(p99 / 2, p99), failedLatencyMs: latency(0, 0), errors };
}

/** A load-test report of the sample app: `ok` of `sent` served, HIGH p99 as given. */
export function loadReport(
  rate: number,
  throughput: number,
  highP99: number,
  extra: Partial<LoadReport> = {},
): LoadReport {
  const sent = rate * 15;
  const ok = Math.round(throughput * 15);
  return {
    target: 'sample app on PostgreSQL (role limited to 8 connections, 5 ms each way (a 10 ms round trip))',
    ratePerSecond: rate,
    durationMs: 15_000,
    elapsedMs: 15_200,
    users: 20,
    sent,
    ok,
    failed: sent - ok,
    unfinished: 0,
    droppedByClient: 0,
    throughput,
    byPriority: {
      HIGH: priorityReport(sent / 10, sent / 10, highP99),
      NORMAL: priorityReport((3 * sent) / 10, (3 * sent) / 10, 100),
      LOW: priorityReport((3 * sent) / 10, (3 * sent) / 10, 80),
      BATCH: priorityReport((3 * sent) / 10, (3 * sent) / 10, 140),
    },
    errorsByType: {},
    connectionReasons: {},
    rateLimited: 0,
    shed: 0,
    peakDbConnections: 7,
    health: null,
    appProcess: { samples: 15, cpuCoresMean: 0.4, cpuCoresPeak: 0.5, eventLoopLagP99MsPeak: 12 },
    timeline: [],
    ...extra,
  };
}

/**
 * A whole run's data, shaped like what generate-report.ts stores, with every target met unless
 * `change` says otherwise. Tests change one figure and read what the report says about it.
 */
export function sampleReportData(change: (data: ReportData) => void = () => undefined): ReportData {
  const data: ReportData = {
    schemaVersion: 3,
    generatedAt: '2030-01-02T03:04:05.000Z',
    command: 'pnpm bench:report',
    machine: {
      cpus: 2,
      cpuModel: 'Test CPU',
      memoryGiB: 8,
      node: 'v20.0.0',
      platform: 'linux x64',
      postgres: 'PostgreSQL 18.4',
    },
    durationMs: 5000,
    budget: { maxConcurrentConnections: 8, reservedForCritical: 1 },
    queue: { maxQueueSize: 200, shedAt: { BATCH: 0.5, LOW: 0.75 } },
    shape: { connections: 8, callers: 64, naivePoolSize: 20 },
    queryCostMs: 5,
    queries: {
      sleep: {
        description: '`select pg_sleep(0.005)`: a fixed 5 ms of database work',
        throughput: throughputCases({
          dedicated: 1500,
          oneAtATime: 1450,
          poolOnly: 1500,
          safeguards: 1300,
          safeguardsNoReserve: 1470,
          naive: 1400,
        }),
      },
      app: {
        description: "the app's dose history page",
        throughput: throughputCases({
          dedicated: 640,
          oneAtATime: 620,
          poolOnly: 650,
          safeguards: 560,
          safeguardsNoReserve: 630,
          naive: 420,
        }),
      },
    },
    overload: {
      factor: 5,
      query: 'sleep',
      mix: [
        { name: 'CRITICAL', share: 2 },
        { name: 'HIGH', share: 8 },
        { name: 'NORMAL', share: 30 },
        { name: 'LOW', share: 30 },
        { name: 'BATCH', share: 30 },
      ],
      offeredPerSecond: 7500,
      unloaded: { CRITICAL: 6, HIGH: 6 },
      safeguards: guardedOverload(),
      safeguardsRuns: [overloadRun(12, 15), overloadRun(12, 15), overloadRun(12, 15)],
      poolOnly: {
        offeredPerSecond: 7500,
        tooManyConnections: 0,
        byClass: Object.fromEntries(
          ['CRITICAL', 'HIGH', 'NORMAL', 'LOW', 'BATCH'].map((name) => [
            name,
            openLoopClass(750, 750, 19_800),
          ]),
        ),
      },
      naive: {
        offeredPerSecond: 7500,
        tooManyConnections: 5000,
        byClass: Object.fromEntries(
          ['CRITICAL', 'HIGH', 'NORMAL', 'LOW', 'BATCH'].map((name) => [
            name,
            openLoopClass(750, 650, 17_000, { 'too-many-connections': 1000 }),
          ]),
        ),
      },
    },
    pipeline: {
      command: 'node --expose-gc bench/src/pipeline-overhead.mjs',
      peers: { cockatiel: '3.2.1', 'p-queue': '9.3.5' },
      concurrency: 1000,
      rounds: 7,
      results: [
        { name: 'bare call', sequentialNs: 50, concurrentNs: 60 },
        { name: 'db-safeguards run (read)', sequentialNs: 900, concurrentNs: 700 },
        { name: 'cockatiel retry+breaker+bulkhead', sequentialNs: 1800, concurrentNs: 1750 },
        { name: 'p-queue (concurrency 8)', sequentialNs: 2300, concurrentNs: 2350 },
      ],
      headline: { sequentialVsCockatiel: 0.5, concurrentVsCockatiel: 0.4 },
    },
    loadtests: [
      {
        id: 'pglite',
        label: 'PGlite, 50 req/s (comfortable)',
        command: 'pnpm loadtest -- --start pglite --rate 50',
        report: loadReport(50, 50, 120, { target: 'sample app on PGlite' }),
      },
      {
        id: 'latency-comfortable',
        label: 'PostgreSQL, 5 ms each way (a 10 ms round trip), 60 req/s (comfortable)',
        command: 'pnpm loadtest -- --start postgres --db-latency 5 --rate 60',
        report: loadReport(60, 60, 200),
      },
      {
        id: 'latency-overload',
        label: 'PostgreSQL, 5 ms each way (a 10 ms round trip), 300 req/s (overload)',
        command: 'pnpm loadtest -- --start postgres --db-latency 5 --rate 300',
        report: loadReport(300, 62, 450),
      },
      {
        id: 'default-limits',
        label: 'PostgreSQL, default rate limits, 200 req/s',
        command: 'pnpm loadtest -- --start postgres --rate 200',
        report: loadReport(200, 150, 90, { peakDbConnections: 3, rateLimited: 700 }),
      },
    ],
    importRows: 20,
    refusalCost: {
      command: 'pnpm bench:refusal-cost -- --rounds 3 --calls 1000 --concurrency 8 --log-level warn',
      callsPerRound: 1000,
      concurrency: 8,
      logLevel: 'warn',
      rounds: [
        { servedCpuUs: 3000, refusedCpuUs: 450, ratio: 0.15 },
        { servedCpuUs: 3200, refusedCpuUs: 576, ratio: 0.18 },
        { servedCpuUs: 2900, refusedCpuUs: 464, ratio: 0.16 },
      ],
      medianRatio: 0.16,
    },
  };
  change(data);
  return data;
}
