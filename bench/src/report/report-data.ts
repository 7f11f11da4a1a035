import type { LoadReport } from '../loadtest/load-report.js';
import type { OverloadCases, ThroughputCases } from './connection-cases.js';

/** Bumped whenever the stored data changes shape: the renderer refuses data it cannot read. */
export const reportSchemaVersion = 2;

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
  queries: Record<string, { description: string; throughput: ThroughputCases }>;
  overload: OverloadCases & { factor: number; query: string };
  pipeline: {
    /** How the micro-benchmark was run inside this report's run. */
    command: string;
    results: Array<{ name: string; sequentialNs: number; concurrentNs: number }>;
    headline: { sequentialVsCockatiel: number; concurrentVsCockatiel: number };
  } | null;
  /**
   * The sample app under load. `id` says what each run is for: `latency-comfortable` and
   * `latency-overload` are the same workload at a rate it serves and far above it, judged against
   * each other.
   */
  loadtests: Array<{ id: LoadtestId; label: string; command: string; report: LoadReport }>;
}
