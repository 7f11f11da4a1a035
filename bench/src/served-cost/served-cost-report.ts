import { existsSync, readFileSync } from 'node:fs';

/** What `pnpm bench:served-cost -- --json FILE` writes: every run of one invocation. */
export interface ServedCostReport {
  schemaVersion: 1;
  generatedAt: string;
  command: string;
  machine: string;
  /** Calls a second sent to each server during its runs, and for how long. */
  rate: number;
  seconds: number;
  /** One call in this many was a dose recording; the rest were history reads. */
  recordEvery: number;
  users: number;
  /** How the servers' runs were laid out (absent in reports written before the option existed: alternate). */
  mode?: 'side-by-side' | 'alternate';
  /** The app's LOG_LEVEL. */
  logLevel: string;
  /** Settings added to the app's environment (`--app-env`). */
  appEnv: Record<string, string>;
  runs: Array<{
    pair: number;
    server: 'app' | 'bare';
    served: number;
    /** Calls not served (refused or failed) plus any the client dropped. */
    failed: number;
    cpuMs: number;
    cpuUsPerServed: number;
    p50Ms: number;
    p99Ms: number;
  }>;
  /** App / bare CPU per served call, one per pair. */
  ratios: number[];
  medianRatio: number;
  medianCpuUsPerServed: { app: number; bare: number };
}

/** The target of issue 15: the safeguards add at most 15 % to a served call's CPU. */
export const servedCostTarget = 1.15;

/**
 * The served-cost section of docs/benchmarks.md, from `docs/served-cost.json`: a run of its own, so
 * the section says which. Undefined when there is no such file.
 */
export function renderServedCostSection(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const report = JSON.parse(readFileSync(path, 'utf8')) as ServedCostReport;
  if (report.schemaVersion !== 1)
    throw new Error(`${path} has schema version ${String(report.schemaVersion)}, expected 1`);
  const met = report.medianRatio <= servedCostTarget;
  const rows = report.runs.map(
    (run, index) =>
      `| ${index + 1} | ${run.server} | ${run.served} | ${run.failed} | ${run.cpuMs} | ${run.cpuUsPerServed} | ${run.p50Ms} | ${run.p99Ms} |`,
  );
  return [
    '## What the safeguards cost a served call',
    '',
    `Not from the run above: measured by \`${report.command} --json docs/served-cost.json\` on ${report.generatedAt.slice(0, 10)} (${report.generatedAt.slice(11, 16)} UTC), ${report.machine}, a machine other work shared. The sample app (built, on PostgreSQL started by the test harness, role limited to 8, 4 connections each) and a bare tRPC + Drizzle server (\`bench/src/served-cost/bare-server.ts\`) run side by side on the same database, users and data. Each run sends one of them ${report.rate} calls a second for ${report.seconds} s, paced (open loop), one in ${report.recordEvery} a dose recording (\`administrations.record\`: access check, then the app's \`recordDose\`), the rest dose-history reads (\`administrations.history\`: access check, then 50 rows); ${(report.mode ?? 'alternate') === 'side-by-side' ? 'in each pair both servers get their load at the same time, so whatever else the machine does then weighs on both and neither idles between its runs' : 'the runs alternate app, bare, app, bare'}. The figure is the server process's own CPU (user + system, from \`/proc/<pid>/stat\`, all its threads) over the run, divided by the calls it served. The app runs as shipped (LOG_LEVEL=${report.logLevel}${Object.keys(report.appEnv).length > 0 ? `, ${JSON.stringify(report.appEnv)}` : ''}, load shedding on) except for rate limits raised out of the way.`,
    '',
    `**App / bare: ${report.medianRatio.toFixed(2)}× (median of ${report.ratios.length} pairs: ${report.ratios.map((r) => r.toFixed(2)).join(', ')}); target ≤ ${servedCostTarget}×: ${met ? 'met' : 'missed'}.** Medians: app ${report.medianCpuUsPerServed.app} µs, bare ${report.medianCpuUsPerServed.bare} µs of CPU per served call.`,
    '',
    '| run | server | served | not served | CPU ms | CPU µs / served | p50 ms | p99 ms |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    '### Reading it',
    '',
    "- **What the bare server does the same:** the same HTTP server and tRPC standalone adapter with the app's transformer (superjson on the wire, answers written by the app's faster writer), the same Drizzle queries on the same tables (the app's one-query access checks; the recording is the app's own `recordDose`), zod input validation, bearer tokens verified against `auth_tokens` once and then kept in memory for 30 s, as the app's session cache does, and the same answer shapes.",
    "- **What only the app does:** edge admission and the middleware's admission (load, rate limit, breaker, budget) for every call, the connection budget's queue and deadlines around every query, the stale-read cache of the last good history answers, a JSON access-log line per request and Prometheus metrics, request IDs and security headers, the body and connection guards. The largest differences left in a CPU profile (at 50 calls a second, per call): the garbage collector, about 0.3 ms more than the bare server's, and `AsyncLocalStorage`, which the safeguards' context runs on: on Node 20 it hooks every promise (about 0.1 ms a call, and part of the garbage). Node 24's `AsyncContextFrame` (behind a flag on Node 22) makes it cheaper.",
    "- **Cut after profiling** (`--profile DIR` writes both servers' CPU profiles): the access log wrote one line per request to stdout with a system call of its own, the largest cost a served call had beyond tRPC, superjson, Drizzle and the driver; the app now gathers its log lines and writes them 4 KiB at a time, at most a second late, and at exit. Superjson's general walker was about a quarter of a served history read's CPU (paths and identities kept for every one of 50 rows' values): the app's answers are now written by a one-pass writer of the same format (`apps/vetmed/src/trpc/wire-transformer.ts`, checked against superjson by a property test; 540 → 150 µs for a page of 50 doses, serialising and `JSON.stringify` together: `pnpm bench:serialize`), and the bare server uses it too, so the comparison still prices the safeguards alone. Metrics labels (route names fixed at start), session look-ups (cached) and round trips (two queries a read, as the bare server) showed nothing to cut.",
    `- Most of a served call's CPU is the same in both: superjson, tRPC's adapter, Drizzle's query building and postgres.js's socket writes (each a system call, dear on this virtual machine). The machine is 2 cores shared with other work: a run whose p50 is far above the others, or in which the app shed calls for load, was disturbed, which is why the ratio is taken within a pair and every run is listed.`,
    "- **Where the ratio stands (2026-12-07, evening):** 1.32× (pairs 1.25–1.33). Measured the old way an hour earlier, app and bare in turn (code without the last four cuts listed below), it gave 1.29–1.96 (median 1.50); side by side, that code gave 1.24–1.32 (median 1.28), so those four cuts did not show. In the old layout each server idled while the other ran, and the app paid more for resuming (its CPU per call fell run after run, 7,120 to 4,140 µs, while the bare server's held at 3,200–3,820). Side by side, six pairs agree within ±4 %, so a change of a few percent now shows. Earlier figures (1.27×, 1.31×, 1.13× the day before) were taken in turn and are not comparable.",
    "- **Cut today, each found in a profile of the measured runs only** (`--profile DIR` now writes `run-windows.json`; the app's profile also holds the set-up, whose users and doses are created through it): an AbortController and an abort listener for every guarded statement (the Drizzle sessions now register a callback with `scope.onAbort`); `process.memoryUsage()` ten times a second in the load sampler, ~0.1 ms each (now once a second); the stale-read cache replacing its copy on every read, which moved every 50-row answer into the garbage collector's old generation (now one copy a second per read: two app processes loaded in turn, 1.14–1.54× the CPU of no cache before, 0.99–1.15× after, against 0.97–1.27× for two identical processes); prom-client's own event-loop timer every 10 ms (now 100 ms); the statement classifier's patterns on every statement (now remembered per text); a pino child logger per request (now made only when a request logs more than its access line); the run context built from spreads; route labels worked out per request.",
    "- **What the rest is:** per call, in a profile of the measured runs (4 pairs side by side, both servers under the profiler): about 0.14 ms more garbage collection, 0.06 ms in `AsyncLocalStorage`'s promise hooks (on Node 20 every promise pays while one is in use; Node 24's `AsyncContextFrame` removes that), and then dozens of pieces of 5–50 µs each: the request's own handling (request ID, headers, the guards), the edge's admission of each call before the body is read, the middleware's admission, the budget's queue and deadline around each of the two statements, the access-log line and metrics. No single piece is large enough that removing it reaches 1.15×; getting there means fewer layers per call (one admission instead of the edge's and the middleware's, context passed explicitly instead of through `AsyncLocalStorage`), which is the next step.",
  ].join('\n');
}
