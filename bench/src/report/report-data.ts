import type { PriorityName } from '@db-safeguards/core';
import type { LoadReport } from '../loadtest/load-report.js';
import type { OverloadCases, ThroughputCases } from './connection-cases.js';

/** Bumped whenever the stored data changes shape: the renderer refuses data it cannot read. */
export const reportSchemaVersion = 3;

export type LoadtestId = 'pglite' | 'latency-comfortable' | 'latency-overload' | 'default-limits';

/** Everything one run of `pnpm bench:report` measured: docs/benchmarks.json, rendered into docs/benchmarks.md. */
export interface ReportData {
  schemaVersion: typeof reportSchemaVersion;
  generatedAt: string;
  command: string;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    node: string;
    platform: string;
    postgres: string;
  };
  durationMs: number;
  /** The connection budget the guarded cases ran with (the core's defaults): the CRITICAL reserve caps what other work can use. */
  budget: { maxConcurrentConnections: number; reservedForCritical: number };
  /** The queue the guarded overload runs shed from (the core's defaults). */
  queue: { maxQueueSize: number; shedAt: Partial<Record<PriorityName, number>> };
  /** The role's connection limit, the closed loops' callers and the naive pool's size (`caseShape`). */
  shape: { connections: number; callers: number; naivePoolSize: number };
  /** Database time of the fixed-cost query, `pg_sleep`, in ms. */
  queryCostMs: number;
  queries: Record<string, { description: string; throughput: ThroughputCases }>;
  /** `mix`: each priority's share of the arrivals (`overloadMix`). */
  overload: OverloadCases & {
    factor: number;
    query: string;
    mix: Array<{ name: PriorityName; share: number }>;
  };
  pipeline: {
    /** How the micro-benchmark was run inside this report's run. */
    command: string;
    /** The installed versions of the peers it compares with. */
    peers: { cockatiel: string; 'p-queue': string };
    /** Operations started at once in the concurrent measurement. */
    concurrency: number;
    /** Interleaved rounds each figure is the median of. */
    rounds: number;
    results: Array<{ name: string; sequentialNs: number; concurrentNs: number }>;
    headline: { sequentialVsCockatiel: number; concurrentVsCockatiel: number };
  } | null;
  /**
   * The sample app under load. `id` says what each run is for: `latency-comfortable` and
   * `latency-overload` are the same workload at a rate it serves and far above it, judged against
   * each other.
   */
  loadtests: Array<{
    id: LoadtestId;
    label: string;
    command: string;
    /** The run shown: the median by HIGH p99 when the configuration ran more than once. */
    report: LoadReport;
    /** Every run of this configuration, in the order run, when it ran more than once. */
    runs?: LoadReport[];
  }>;
  /** Past doses in each bulk import the load tests sent (`importRows` of the load tool's scenarios). */
  importRows: number;
  /** The CPU of a refused call against a served history read (`pnpm bench:refusal-cost`); absent in older runs. */
  refusalCost?: RefusalCostData | null;
}

/** What `bench/src/refusal-cost/refusal-cost.ts --json` writes. */
export interface RefusalCostData {
  command: string;
  callsPerRound: number;
  concurrency: number;
  /** The apps' LOG_LEVEL (at `warn` refused requests are logged, a few a second of each kind in full and the rest counted, as in production). */
  logLevel: string;
  /** Every round, in order: each app's CPU per call in µs, and the ratio of the round. */
  rounds: Array<{ servedCpuUs: number; refusedCpuUs: number; ratio: number }>;
  medianRatio: number;
}
