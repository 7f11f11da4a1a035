// Types of render-reliability-report.mjs, for the TypeScript that imports it (the suite's own test).

/** The figures each run must produce, in report order. */
export declare const expectedScenarios: readonly string[];
/** The bad-input tests each run must record, in report order. */
export declare const expectedBadInput: readonly string[];
/** The abuse tests each run must record, in report order. */
export declare const expectedAbuse: readonly string[];

/** Thrown for a results folder the report must not be rendered from. */
export declare class ReliabilityResultsError extends Error {
  name: 'ReliabilityResultsError';
}

/** A run of the suite: its id and when it started. */
export interface ReliabilityRun {
  runId: string;
  startedAt: string;
}

/** What each result file holds besides its figures. */
export interface RecordedResult {
  id: string;
  kind: 'scenario' | 'bad-input' | 'abuse';
  runId: string | null;
  measuredAt: string;
  machine: { cpus: number; cpuModel: string; node: string; platform: string };
  [figure: string]: unknown;
}

/** The current run's results, checked. */
export interface ReliabilityResults {
  run: ReliabilityRun;
  machine: RecordedResult['machine'];
  scenarios: RecordedResult[];
  badInput: RecordedResult[];
  abuse: RecordedResult[];
  lastMeasuredAt: string;
}

/** Empties `dir` and starts a run in it. */
export declare function beginRun(dir: string): ReliabilityRun;
/** The current run's results: all present, none from another run, one machine; else ReliabilityResultsError. */
export declare function readRun(dir: string): ReliabilityResults;
/** The report's markdown; with `multiInstance` (docs/multi-instance.json), its kill and Redis-outage scenarios too. */
export declare function renderReport(results: ReliabilityResults, multiInstance?: unknown): string;
/** The kill and Redis-outage section, from a multi-instance load-test report (docs/multi-instance.json). */
export declare function renderMultiInstanceScenarios(report: unknown): string;
