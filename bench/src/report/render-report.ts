import { formatLoadReport } from '../loadtest/load-report.js';
import { ceilingOf, type ThroughputCases } from './connection-cases.js';
import { compareThroughput, explainThroughputGap, throughputTarget } from './explain-throughput.js';
import { goodputTarget, highLatencyTarget, judgeSampleAppOverload } from './judge-sample-app-overload.js';
import { type ReportData, reportSchemaVersion } from './report-data.js';
import type { OpenLoopResult, WorkloadResult } from './workloads.js';

const n = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (value: number) => (value >= 100 ? n(value) : n(value, 1));
const verdict = (met: boolean) => (met ? '**met**' : '**missed**');

function errorsOf(result: WorkloadResult): string {
  const entries = Object.entries(result.errors);
  return entries.length === 0 ? '0' : entries.map(([reason, count]) => `${n(count)} ${reason}`).join(', ');
}

function throughputTable(cases: ThroughputCases, budget: ReportData['budget']): string {
  const ceiling = ceilingOf(cases).throughput;
  const rows: Array<[string, WorkloadResult]> = [
    ['1. Dedicated: 8 connections of their own, each kept full by 8 pipelining callers', cases.dedicated],
    ['1b. For context: 8 callers on 8 connections, one query each at a time', cases.oneAtATime],
    [
      `2. db-safeguards, defaults (64 callers; ${budget.reservedForCritical} of ${budget.maxConcurrentConnections} slots kept for CRITICAL)`,
      cases.safeguards,
    ],
    ['2b. db-safeguards, no CRITICAL reserve (64 callers)', cases.safeguardsNoReserve],
    ['3. Naive: pool of 20, no safeguards (64 callers)', cases.naive],
    ['4. Pool only: postgres.js max 8, no safeguards (64 callers)', cases.poolOnly],
  ];
  return [
    '| case | ok/s | × ceiling | p50 ms | p99 ms | failed requests |',
    '|---|---:|---:|---:|---:|---|',
    ...rows.map(
      ([label, r]) =>
        `| ${label} | ${n(r.throughput)} | ${n(r.throughput / ceiling, 2)} | ${ms(r.latencyMs.p50)} | ${ms(r.latencyMs.p99)} | ${errorsOf(r)} |`,
    ),
  ].join('\n');
}

function overloadTable(title: string, result: OpenLoopResult): string {
  return [
    `**${title}**`,
    '',
    '| priority | sent | ok | refused or failed | p50 ms | p99 ms | max ms |',
    '|---|---:|---:|---|---:|---:|---:|',
    ...Object.entries(result.byClass).map(
      ([name, r]) =>
        `| ${name} | ${n(r.sent)} | ${n(r.ok)} | ${errorsOf(r)} | ${ms(r.latencyMs.p50)} | ${ms(r.latencyMs.p99)} | ${ms(r.latencyMs.max)} |`,
    ),
  ].join('\n');
}

const shedShare = (result: OpenLoopResult, name: string) => {
  const r = result.byClass[name]!;
  return r.sent === 0 ? 0 : (r.sent - r.ok) / r.sent;
};

/**
 * Every failure classified CONNECTION that a client of db-safeguards saw anywhere in the run: each
 * guarded closed-loop case (with and without the reserve, every round, both queries), every guarded
 * overload run, and every load test of the sample app (which always runs through db-safeguards).
 */
export function connectionErrorsThroughSafeguards(data: ReportData): {
  total: number;
  parts: Array<{ where: string; count: number }>;
} {
  const parts: Array<{ where: string; count: number }> = [];
  for (const [name, { throughput }] of Object.entries(data.queries)) {
    parts.push(
      {
        where: `closed loop, ${name}, defaults`,
        count: throughput.errorsByTypeAllRounds.safeguards.CONNECTION ?? 0,
      },
      {
        where: `closed loop, ${name}, no CRITICAL reserve`,
        count: throughput.errorsByTypeAllRounds.safeguardsNoReserve.CONNECTION ?? 0,
      },
    );
  }
  for (const [i, run] of data.overload.safeguardsRuns.entries())
    parts.push({ where: `overload run ${i + 1}`, count: run.errorsByType.CONNECTION ?? 0 });
  for (const run of data.loadtests)
    parts.push({ where: `load test "${run.label}"`, count: run.report.errorsByType.CONNECTION ?? 0 });
  return { total: parts.reduce((sum, part) => sum + part.count, 0), parts: parts.filter((p) => p.count > 0) };
}

/** docs/benchmarks.md from one run's data. */
export function renderReport(data: ReportData): string {
  if (data.schemaVersion !== reportSchemaVersion) {
    throw new Error(
      `The benchmark data has schema version ${String(data.schemaVersion)}, this renderer reads ${reportSchemaVersion}: regenerate it with \`pnpm bench:report\`.`,
    );
  }
  const sleep = data.queries.sleep!.throughput;
  const app = data.queries.app!.throughput;
  const sleepCeiling = ceilingOf(sleep);
  const ratio = sleep.safeguards.throughput / sleepCeiling.throughput;
  const ratioAppReserve = app.safeguards.throughput / ceilingOf(app).throughput;
  const { maxConcurrentConnections: slots, reservedForCritical: reserved } = data.budget;
  // With slots kept for CRITICAL, work without CRITICAL can use the rest only.
  const cap = (slots - reserved) / slots;
  const capText = `${slots - reserved}/${slots} = ${n(cap, 3)}`;
  const ratioNoReserve = compareThroughput(sleep).ratio;
  const ratioApp = compareThroughput(app).ratio;
  const throughputMet = (value: number) => value >= throughputTarget;
  const overload = data.overload;
  const guarded = overload.safeguards;
  const criticalMultiple = guarded.byClass.CRITICAL!.latencyMs.p99 / overload.unloaded.CRITICAL;
  const highMultiple = guarded.byClass.HIGH!.latencyMs.p99 / overload.unloaded.HIGH;
  const runs = overload.safeguardsRuns ?? [];
  const perRun = (name: 'CRITICAL' | 'HIGH') =>
    runs.length > 1
      ? ` (median of ${runs.length} runs: ${runs.map((run) => `${n(run.p99Ms[name] / overload.unloaded[name], 1)}×`).join(', ')})`
      : '';
  const loopDelays = runs.map((run) => run.eventLoopDelayP99Ms);
  const clientConnectionErrors = connectionErrorsThroughSafeguards(data);
  const shedOrder = ['BATCH', 'LOW', 'NORMAL', 'HIGH', 'CRITICAL'].map((name) => shedShare(guarded, name));
  const shedInOrder =
    shedOrder.every((share, i) => i === 0 || share <= shedOrder[i - 1]! + 1e-9) && shedOrder[0]! > 0;
  const naiveErrors = sleep.naive.tooManyConnections + overload.naive.tooManyConnections;
  const pipeline = data.pipeline;
  const ours = pipeline?.results.find((r) => r.name === 'db-safeguards run (read)');
  const sampleApp = judgeSampleAppOverload(data);
  const m = data.machine;

  const lines: string[] = [
    '# Benchmarks',
    '',
    `Generated by \`${data.command}\` on ${data.generatedAt.slice(0, 10)}; every figure below comes from that one run. Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}, ${m.postgres} (embedded, started by the benchmark) with the app role limited to \`CONNECTION LIMIT 8\`. Each closed-loop case runs ${data.durationMs / 1000} s, three times interleaved with the others; the tables show its median round. Ratios measured in the same run are the headline; absolute times are context: the database, the clients and the load generator share ${m.cpus} cores.`,
    '',
    '## Targets',
    '',
    '| target | measured | verdict |',
    '|---|---|---|',
    `| db-safeguards throughput ≥ ${throughputTarget} × the ceiling (best of 1/1b/4: the best unguarded case, see below) | without the CRITICAL reserve ${n(ratioNoReserve, 2)} on \`pg_sleep\`, ${n(ratioApp, 2)} on the app query; with the default reserve ${n(ratio, 2)} and ${n(ratioAppReserve, 2)}, that is ${n(ratio / cap, 2)} and ${n(ratioAppReserve / cap, 2)} of its cap ${capText} | ${verdict(throughputMet(ratioNoReserve))} on \`pg_sleep\`, ${verdict(throughputMet(ratioApp))} on the app query, without the reserve; with it, against its cap: ${verdict(throughputMet(ratio / cap))} and ${verdict(throughputMet(ratioAppReserve / cap))} |`,
    `| connection errors seen by clients through db-safeguards: 0 (every guarded case, overload run and load test) | ${n(clientConnectionErrors.total)}${clientConnectionErrors.parts.length > 0 ? ` (${clientConnectionErrors.parts.map((part) => `${n(part.count)} in ${part.where}`).join('; ')})` : ''} | ${verdict(clientConnectionErrors.total === 0)} |`,
    `| CRITICAL p99 at ${overload.factor}× overload ≤ 3 × unloaded p99 | ${ms(guarded.byClass.CRITICAL!.latencyMs.p99)} ms vs ${ms(overload.unloaded.CRITICAL)} ms: ${n(criticalMultiple, 1)}×${perRun('CRITICAL')} | ${verdict(criticalMultiple <= 3)} |`,
    `| HIGH p99 at ${overload.factor}× overload ≤ 3 × unloaded p99 | ${ms(guarded.byClass.HIGH!.latencyMs.p99)} ms vs ${ms(overload.unloaded.HIGH)} ms: ${n(highMultiple, 1)}×${perRun('HIGH')} | ${verdict(highMultiple <= 3)} |`,
    `| BATCH shed first | refused share BATCH ${n(shedOrder[0]! * 100)} %, LOW ${n(shedOrder[1]! * 100)} %, NORMAL ${n(shedOrder[2]! * 100)} %, HIGH ${n(shedOrder[3]! * 100)} %, CRITICAL ${n(shedOrder[4]! * 100)} % | ${verdict(shedInOrder)} |`,
    `| the naive pool of 20 shows the problem | ${n(naiveErrors)} requests failed with 53300 (too many connections) | for contrast |`,
  ];
  if (sampleApp) {
    const { comfortable, overload } = sampleApp;
    const rates = `${n(overload.ratePerSecond)} vs ${n(comfortable.ratePerSecond)} req/s`;
    lines.push(
      `| sample app at ${n(sampleApp.factor, 1)}× its comfortable rate (${rates}): goodput ≥ ${goodputTarget} × the comfortable run's | ${n(overload.throughput, 1)} vs ${n(comfortable.throughput, 1)} ok/s: ${n(sampleApp.goodput, 2)}× | ${verdict(sampleApp.goodputMet)} |`,
      `| sample app at ${n(sampleApp.factor, 1)}× its comfortable rate: HIGH p99 ≤ ${highLatencyTarget} × the comfortable run's | ${ms(overload.byPriority.HIGH.latencyMs.p99)} ms vs ${ms(comfortable.byPriority.HIGH.latencyMs.p99)} ms: ${n(sampleApp.highMultiple, 1)}× | ${verdict(sampleApp.highMet)} |`,
    );
  }
  if (pipeline && ours) {
    lines.push(
      `| pipeline overhead < cockatiel's retry + breaker + bulkhead | ${n(pipeline.headline.sequentialVsCockatiel, 2)}× sequential, ${n(pipeline.headline.concurrentVsCockatiel, 2)}× at 1000 concurrent | ${verdict(pipeline.headline.sequentialVsCockatiel < 1 && pipeline.headline.concurrentVsCockatiel < 1)} |`,
      `| pipeline < 1 µs per operation, sequential | ${n(ours.sequentialNs)} ns | ${verdict(ours.sequentialNs < 1000)} |`,
    );
  }
  lines.push(
    '',
    '### Where a target is missed, and why',
    '',
    ...(!throughputMet(ratioNoReserve) || !throughputMet(ratioApp)
      ? [
          `- **Throughput against the ceiling (best of 1/1b/4) (${n(ratioNoReserve, 2)} on \`pg_sleep\`, ${n(ratioApp, 2)} on the app query).** ${explainThroughputGap(data)}`,
        ]
      : []),
    ...(reserved > 0
      ? [
          `- **Throughput with the default reserve (${n(ratio, 2)} on \`pg_sleep\`, ${n(ratioAppReserve, 2)} on the app query).** ${reserved} of the ${slots} slots ${reserved === 1 ? 'is' : 'are'} kept for CRITICAL work so a health check always gets through; a workload with no CRITICAL work can use ${slots - reserved}, so its cap is ${capText} of the ceiling, and it reached ${n(ratio / cap, 2)} and ${n(ratioAppReserve / cap, 2)} of that cap. Without the reserve (\`queue.reservedForCritical: 0\`) the same pipeline reaches ${n(ratioNoReserve, 2)} and ${n(ratioApp, 2)} of the ceiling. The reserve is the right default for an app whose health checks decide whether it gets traffic; set it to 0 for a batch worker.`,
        ]
      : []),
    ...(criticalMultiple > 3 || highMultiple > 3
      ? [
          `- **Urgent latency under overload.** An urgent call never waits behind NORMAL, LOW or BATCH work, but it does wait for a slot to free (a 5 ms query holds it) and behind other urgent calls: CRITICAL and HIGH are 10 % of ${overload.factor}× the limit, half the capacity on their own, so they queue among themselves. On top of that the load generator, the safeguards and the driver share one Node process that starts ${n(overload.offeredPerSecond)} calls a second; its event loop was ${loopDelays.length > 0 ? `${loopDelays.map((delay) => n(delay, 1)).join(', ')} ms late at p99 in the runs` : 'late'}, which lands on every latency measured. A 5 s p99 moves from run to run on a shared machine; the table lists each run.`,
        ]
      : []),
    ...(sampleApp && !sampleApp.goodputMet
      ? [`- **Sample app goodput under overload (${n(sampleApp.goodput, 2)}×).** ${sampleApp.goodputWhy}`]
      : []),
    ...(sampleApp && !sampleApp.highMet
      ? [
          `- **Sample app HIGH latency under overload (${n(sampleApp.highMultiple, 1)}×).** ${sampleApp.highWhy}`,
        ]
      : []),
    ...(ours && ours.sequentialNs >= 1000
      ? [
          `- **Sequential overhead (${n(ours.sequentialNs)} ns).** On this machine one clock read costs 70-80 ns and AsyncLocalStorage's promise hooks add ~100 ns to every promise; the pipeline needs both.`,
        ]
      : []),
    '',
    '## Throughput: closed loop',
    '',
    `### ${data.queries.sleep!.description}`,
    '',
    throughputTable(sleep, data.budget),
    '',
    `### ${data.queries.app!.description}`,
    '',
    throughputTable(app, data.budget),
    '',
    'The naive pool opens up to 20 connections for a role allowed 8: every connection beyond the limit is refused with 53300 and the query that needed it fails (postgres.js does not retry). The pool of 8 alone keeps the limit but has no priorities, no deadlines and no refusals: under overload its queue grows without bound (below).',
    '',
    `## Overload: open loop at ${overload.factor}× the ceiling (best of 1/1b/4)`,
    '',
    `${n(overload.offeredPerSecond)} requests/s offered for ${data.durationMs / 1000} s (the ceiling, best of 1/1b/4, is ${n(sleepCeiling.throughput)}/s: case ${sleepCeiling.label}), the query being \`pg_sleep(0.005)\`, mixed 2 % CRITICAL, 8 % HIGH, 30 % NORMAL, 30 % LOW, 30 % BATCH. Unloaded p99 through db-safeguards: CRITICAL ${ms(overload.unloaded.CRITICAL)} ms, HIGH ${ms(overload.unloaded.HIGH)} ms.`,
    '',
    overloadTable(
      'db-safeguards (defaults: queue of 200, BATCH shed at half full, LOW at three quarters)',
      guarded,
    ),
    '',
    overloadTable(
      '4. Pool only: postgres.js max 8, no safeguards (everything queues in the driver)',
      overload.poolOnly,
    ),
    '',
    overloadTable('3. Naive: pool of 20, no safeguards', overload.naive),
    '',
  );
  if (pipeline) {
    lines.push(
      '## Pipeline overhead against cockatiel and p-queue',
      '',
      `The full \`run\` pipeline (breaker, budget, deadline, retry bookkeeping, AsyncLocalStorage) on a no-op operation, against a bare call, cockatiel 3.2 (retry + circuit breaker + bulkhead; cockatiel 4 needs Node 22) and p-queue 9 (concurrency 8), median of interleaved rounds. Run within \`${data.command}\` as \`${pipeline.command}\` (on its own: \`pnpm bench\`).`,
      '',
      '| case | sequential ns/op | 1000 concurrent ns/op |',
      '|---|---:|---:|',
      ...pipeline.results.map((r) => `| ${r.name} | ${n(r.sequentialNs)} | ${n(r.concurrentNs)} |`),
      '',
    );
  }
  lines.push(
    '## The sample app under load',
    '',
    "The load tool (`pnpm loadtest`) drives the running sample app over HTTP with its tRPC client, open loop: record a dose (HIGH), read a dose history (NORMAL), an adherence report (LOW), a bulk import of 20 doses (BATCH). `--db-latency MS` puts a proxy of our own between the app and PostgreSQL that delays every chunk MS ms in each direction, so each round trip takes 2 × MS ms longer, as with a remote database such as Neon; without it the app server's CPU, shared with the load generator and the database, runs out before the connection budget does. `--unlimited` raises the rate limits so that what is measured is the budget.",
    '',
  );
  for (const run of data.loadtests) {
    lines.push(
      `### ${run.label}`,
      '',
      `\`${run.command}\``,
      '',
      '```',
      formatLoadReport(run.report),
      '```',
      '',
    );
  }
  return `${lines.join('\n')}\n`;
}
