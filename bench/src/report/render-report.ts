import { formatLoadReport } from '../loadtest/load-report.js';
import { ceilingOf } from './connection-cases.js';
import {
  type ConnectionErrorPart,
  cockatielTarget,
  explainConnectionErrors,
  explainPipelineMiss,
  explainShedOrder,
  isShedInOrder,
  refusalCostTarget,
  refusedShare,
  shedOrder,
} from './explain-misses.js';
import { compareThroughput, explainThroughputGap, throughputTarget } from './explain-throughput.js';
import {
  criticalLatencyTarget,
  goodputTarget,
  highLatencyTarget,
  judgeSampleAppOverload,
} from './judge-sample-app-overload.js';
import { type ReportData, reportSchemaVersion } from './report-data.js';
import { describeShedding, ms, n, overloadTable, throughputTable } from './report-tables.js';

const verdict = (met: boolean) => (met ? '**met**' : '**missed**');

/** The middle value; the mean of the two middle ones for an even count. */
export function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Every failure classified CONNECTION that a client of db-safeguards saw anywhere in the run: each
 * guarded closed-loop case (with and without the reserve, every round, both queries), every guarded
 * overload run, and every load test of the sample app (which always runs through db-safeguards).
 */
export function connectionErrorsThroughSafeguards(data: ReportData): {
  total: number;
  parts: ConnectionErrorPart[];
} {
  const parts: ConnectionErrorPart[] = [];
  for (const [name, { throughput }] of Object.entries(data.queries)) {
    parts.push(
      {
        where: `closed loop, ${name}, defaults`,
        count: throughput.errorsByTypeAllRounds.safeguards.CONNECTION ?? 0,
        reasons: throughput.connectionReasonsAllRounds.safeguards,
      },
      {
        where: `closed loop, ${name}, no CRITICAL reserve`,
        count: throughput.errorsByTypeAllRounds.safeguardsNoReserve.CONNECTION ?? 0,
        reasons: throughput.connectionReasonsAllRounds.safeguardsNoReserve,
      },
    );
  }
  for (const [i, run] of data.overload.safeguardsRuns.entries())
    parts.push({
      where: `overload run ${i + 1}`,
      count: run.errorsByType.CONNECTION ?? 0,
      reasons: run.connectionReasons,
    });
  for (const run of data.loadtests)
    parts.push({
      where: `load test "${run.label}"`,
      count: run.report.errorsByType.CONNECTION ?? 0,
      reasons: run.report.connectionReasons,
    });
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
  const runs = overload.safeguardsRuns ?? [];
  // Each priority's own median over the runs: the run the overload table shows is the median by the
  // worse of its two multiples, and its CRITICAL figure need not be the median CRITICAL figure.
  const urgentP99 = (name: 'CRITICAL' | 'HIGH') =>
    runs.length > 0 ? medianOf(runs.map((run) => run.p99Ms[name])) : guarded.byClass[name]!.latencyMs.p99;
  const criticalMultiple = urgentP99('CRITICAL') / overload.unloaded.CRITICAL;
  const highMultiple = urgentP99('HIGH') / overload.unloaded.HIGH;
  const perRun = (name: 'CRITICAL' | 'HIGH') =>
    runs.length > 1
      ? ` (median of ${runs.length} runs: ${runs.map((run) => `${n(run.p99Ms[name] / overload.unloaded[name], 1)}×`).join(', ')})`
      : '';
  const shownRun = runs.findIndex(
    (run) =>
      run.p99Ms.CRITICAL === guarded.byClass.CRITICAL!.latencyMs.p99 &&
      run.p99Ms.HIGH === guarded.byClass.HIGH!.latencyMs.p99,
  );
  const loopDelays = runs.map((run) => run.eventLoopDelayP99Ms);
  const clientConnectionErrors = connectionErrorsThroughSafeguards(data);
  const shares = shedOrder.map((name) => refusedShare(guarded, name));
  const shedInOrder = isShedInOrder(guarded);
  const naiveErrors = sleep.naive.tooManyConnections + overload.naive.tooManyConnections;
  const pipeline = data.pipeline;
  const ours = pipeline?.results.find((r) => r.name === 'db-safeguards run (read)');
  const sampleApp = judgeSampleAppOverload(data);
  const m = data.machine;
  const rounds = sleep.rounds;
  const { connections, naivePoolSize } = data.shape;
  const mixShares = Object.fromEntries(overload.mix.map((cls) => [cls.name, cls.share]));
  const totalShare = overload.mix.reduce((sum, cls) => sum + cls.share, 0);
  const percentOf = (share: number) => `${n((share / totalShare) * 100)} %`;
  // Urgent work on its own, as a multiple of the ceiling: above 1 it cannot all be served at once.
  const urgentShare = ((mixShares.CRITICAL ?? 0) + (mixShares.HIGH ?? 0)) / totalShare;
  const urgentLoad = urgentShare * overload.factor;
  const highRuns = runs.map((run) => `${n(run.p99Ms.HIGH / overload.unloaded.HIGH, 1)}×`);
  const poolOnlyFailures = Object.values(overload.poolOnly.byClass).reduce(
    (sum, r) => sum + r.sent - r.ok,
    0,
  );
  const poolOnlyP99s = Object.values(overload.poolOnly.byClass).map((r) => r.latencyMs.p99);
  const defaultLimits = data.loadtests.find((run) => run.id === 'default-limits')?.report;
  const pipelineMet =
    pipeline !== null &&
    pipeline.headline.sequentialVsCockatiel <= cockatielTarget &&
    pipeline.headline.concurrentVsCockatiel <= cockatielTarget;

  const lines: string[] = [
    '# Benchmarks',
    '',
    `Generated by \`${data.command}\` on ${data.generatedAt.slice(0, 10)}; every figure below comes from that one run. Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}, ${m.postgres} (embedded, started by the benchmark) with the app role limited to \`CONNECTION LIMIT ${data.shape.connections}\`. Each closed-loop case runs ${data.durationMs / 1000} s, ${rounds === 1 ? 'once' : `${rounds} times interleaved with the others; the tables show its median round`}. Ratios measured in the same run are the headline; absolute times are context: the database, the clients and the load generator share ${m.cpus} cores.`,
    '',
    '## Targets',
    '',
    '| target | measured | verdict |',
    '|---|---|---|',
    `| db-safeguards throughput ≥ ${throughputTarget} × the ceiling (best of 1/1b/4: the best unguarded case, see below) | without the CRITICAL reserve ${n(ratioNoReserve, 2)} on \`pg_sleep\`, ${n(ratioApp, 2)} on the app query; with the default reserve ${n(ratio, 2)} and ${n(ratioAppReserve, 2)}, that is ${n(ratio / cap, 2)} and ${n(ratioAppReserve / cap, 2)} of its cap ${capText} | ${verdict(throughputMet(ratioNoReserve))} on \`pg_sleep\`, ${verdict(throughputMet(ratioApp))} on the app query, without the reserve; with it, against its cap: ${verdict(throughputMet(ratio / cap))} and ${verdict(throughputMet(ratioAppReserve / cap))} |`,
    `| connection errors seen by clients through db-safeguards: 0 (every guarded case, overload run and load test) | ${n(clientConnectionErrors.total)}${clientConnectionErrors.parts.length > 0 ? ` (${clientConnectionErrors.parts.map((part) => `${n(part.count)} in ${part.where}`).join('; ')})` : ''} | ${verdict(clientConnectionErrors.total === 0)} |`,
    `| CRITICAL p99 at ${overload.factor}× overload ≤ 3 × unloaded p99 | ${ms(urgentP99('CRITICAL'))} ms vs ${ms(overload.unloaded.CRITICAL)} ms: ${n(criticalMultiple, 1)}×${perRun('CRITICAL')} | ${verdict(criticalMultiple <= 3)} |`,
    `| HIGH p99 at ${overload.factor}× overload ≤ 3 × unloaded p99 | ${ms(urgentP99('HIGH'))} ms vs ${ms(overload.unloaded.HIGH)} ms: ${n(highMultiple, 1)}×${perRun('HIGH')} | ${verdict(highMultiple <= 3)} |`,
    `| BATCH shed first | refused share ${shedOrder.map((name, i) => `${name} ${n(shares[i]! * 100)} %`).join(', ')} | ${verdict(shedInOrder)} |`,
    `| the naive pool of ${naivePoolSize} shows the problem | ${n(naiveErrors)} requests failed with 53300 (too many connections) | for contrast |`,
  ];
  if (sampleApp) {
    const { comfortable, overload } = sampleApp;
    const overloadRuns = sampleApp.runs;
    const ofRuns = (figure: (run: (typeof overloadRuns)[number]) => string) =>
      overloadRuns.length > 1
        ? ` (median run by HIGH p99 of ${overloadRuns.length}: ${overloadRuns.map(figure).join(', ')})`
        : '';
    const rates = `${n(overload.ratePerSecond)} vs ${n(comfortable.ratePerSecond)} req/s`;
    lines.push(
      `| sample app at ${n(sampleApp.factor, 1)}× its comfortable rate (${rates}): goodput ≥ ${goodputTarget} × the comfortable run's | ${n(overload.throughput, 1)} vs ${n(comfortable.throughput, 1)} ok/s: ${n(sampleApp.goodput, 2)}×${ofRuns((run) => `${n(run.goodput, 2)}×`)} | ${verdict(sampleApp.goodputMet)} |`,
      `| sample app at ${n(sampleApp.factor, 1)}× its comfortable rate: HIGH p99 ≤ ${highLatencyTarget} × the comfortable run's | ${ms(overload.byPriority.HIGH.latencyMs.p99)} ms vs ${ms(comfortable.byPriority.HIGH.latencyMs.p99)} ms: ${n(sampleApp.highMultiple, 1)}×${ofRuns((run) => `${n(run.highMultiple, 1)}×`)} | ${verdict(sampleApp.highMet)} |`,
      sampleApp.criticalMultiple === undefined
        ? `| sample app at ${n(sampleApp.factor, 1)}× its comfortable rate: CRITICAL (health check) p99 ≤ ${criticalLatencyTarget} × the comfortable run's | not measured (no health checks in these runs) | **missed** |`
        : `| sample app at ${n(sampleApp.factor, 1)}× its comfortable rate: CRITICAL (health check) p99 ≤ ${criticalLatencyTarget} × the comfortable run's, every check answered | ${ms(overload.health!.latencyMs.p99)} ms vs ${ms(comfortable.health!.latencyMs.p99)} ms: ${n(sampleApp.criticalMultiple, 1)}×${ofRuns((run) => (run.criticalMultiple === undefined ? 'n/a' : `${n(run.criticalMultiple, 1)}×`))}; ${n(overload.health!.answered)} of ${n(overload.health!.sent)} answered | ${verdict(sampleApp.criticalMet)} |`,
    );
  }
  const refusalCost = data.refusalCost ?? null;
  const refusalMet = refusalCost !== null && refusalCost.medianRatio <= refusalCostTarget;
  const refusalFigures = (cost: NonNullable<typeof refusalCost>) => {
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    return {
      refusedUs: median(cost.rounds.map((round) => round.refusedCpuUs)),
      servedUs: median(cost.rounds.map((round) => round.servedCpuUs)),
      ratios: cost.rounds.map((round) => `${n(round.ratio, 2)}×`).join(', '),
    };
  };
  if (refusalCost) {
    const { refusedUs, servedUs, ratios } = refusalFigures(refusalCost);
    lines.push(
      `| a refused call costs ≤ ${refusalCostTarget} × the CPU of a served history read (sample app, over HTTP) | ${n(refusedUs)} µs vs ${n(servedUs)} µs (medians): ${n(refusalCost.medianRatio, 2)}× (median of ${refusalCost.rounds.length} rounds: ${ratios}) | ${verdict(refusalMet)} |`,
    );
  }
  if (pipeline && ours) {
    lines.push(
      `| pipeline overhead ≤ ${cockatielTarget} × cockatiel's retry + breaker + bulkhead | ${n(pipeline.headline.sequentialVsCockatiel, 2)}× sequential, ${n(pipeline.headline.concurrentVsCockatiel, 2)}× at ${n(pipeline.concurrency)} concurrent | ${verdict(pipelineMet)} |`,
    );
  }
  lines.push(
    '',
    '### Where a target is missed, and why',
    '',
    ...(!throughputMet(ratioNoReserve) || !throughputMet(ratioApp)
      ? [
          `- **Throughput against the ceiling, best of 1/1b/4 (${n(ratioNoReserve, 2)} on \`pg_sleep\`, ${n(ratioApp, 2)} on the app query).** ${explainThroughputGap(data)}`,
        ]
      : []),
    ...(reserved > 0
      ? [
          `- **Throughput with the default reserve (${n(ratio, 2)} on \`pg_sleep\`, ${n(ratioAppReserve, 2)} on the app query).** ${reserved} of the ${slots} slots ${reserved === 1 ? 'is' : 'are'} kept for CRITICAL work so a health check always gets through; a workload with no CRITICAL work can use ${slots - reserved}, so its cap is ${capText} of the ceiling, and it reached ${n(ratio / cap, 2)} and ${n(ratioAppReserve / cap, 2)} of that cap. Without the reserve (\`queue.reservedForCritical: 0\`) the same pipeline reaches ${n(ratioNoReserve, 2)} and ${n(ratioApp, 2)} of the ceiling. The reserve is the right default for an app whose health checks decide whether it gets traffic; set it to 0 for a batch worker.`,
        ]
      : []),
    ...(clientConnectionErrors.total > 0
      ? [
          `- **Connection errors through db-safeguards (${n(clientConnectionErrors.total)}).** ${explainConnectionErrors(clientConnectionErrors.parts)}`,
        ]
      : []),
    ...(criticalMultiple > 3 || highMultiple > 3
      ? [
          `- **Urgent latency under overload.** An urgent call never waits behind NORMAL, LOW or BATCH work, but it does wait for a slot to free (a ${data.queryCostMs} ms query holds it) and behind other urgent calls: CRITICAL and HIGH are ${n(urgentShare * 100)} % of ${overload.factor}× the ceiling, ${n(urgentLoad, 2)}× the ceiling on their own. The load generator, the safeguards and the driver share one Node process that starts ${n(overload.offeredPerSecond)} calls a second; its event loop was ${loopDelays.map((delay) => n(delay, 1)).join(', ')} ms late at p99 in the ${runs.length} runs, and that delay lands on every latency measured.${runs.length > 1 ? ` The p99 of a ${data.durationMs / 1000} s run varies from run to run: HIGH was ${highRuns.join(', ')} its unloaded p99 in the ${runs.length} runs.` : ''}`,
        ]
      : []),
    ...(!shedInOrder ? [`- **BATCH shed first.** ${explainShedOrder(guarded)}`] : []),
    ...(sampleApp && !sampleApp.goodputMet
      ? [`- **Sample app goodput under overload (${n(sampleApp.goodput, 2)}×).** ${sampleApp.goodputWhy}`]
      : []),
    ...(sampleApp && !sampleApp.highMet
      ? [
          `- **Sample app HIGH latency under overload (${n(sampleApp.highMultiple, 1)}×).** ${sampleApp.highWhy}`,
        ]
      : []),
    ...(sampleApp && !sampleApp.criticalMet
      ? [
          `- **Sample app health checks under overload${sampleApp.criticalMultiple === undefined ? '' : ` (${n(sampleApp.criticalMultiple, 1)}×)`}.** ${sampleApp.criticalWhy}`,
        ]
      : []),
    ...(refusalCost && !refusalMet
      ? [
          `- **A refused call's CPU (${n(refusalCost.medianRatio, 2)}× a served history read).** ${(() => {
            const { refusedUs, servedUs } = refusalFigures(refusalCost);
            return `A history read refused by its rate limit cost the app ${n(refusedUs)} µs of CPU (median of the rounds), a served one ${n(servedUs)} µs. The refusal is decided in the safeguards' tRPC middleware, inside tRPC's request handling: the call still pays for the adapter's Request and Response, the context, superjson and the error's shaping. Under overload most calls are refused, so that cost is what takes the CPU from the calls being served.`;
          })()}`,
        ]
      : []),
    ...(pipeline && ours && !pipelineMet
      ? [
          `- **Pipeline overhead against cockatiel (${n(pipeline.headline.sequentialVsCockatiel, 2)}× sequential, ${n(pipeline.headline.concurrentVsCockatiel, 2)}× at ${n(pipeline.concurrency)} concurrent).** ${explainPipelineMiss(pipeline)}`,
        ]
      : []),
    '',
    '## Throughput: closed loop',
    '',
    `### ${data.queries.sleep!.description}`,
    '',
    throughputTable(sleep, data),
    '',
    `### ${data.queries.app!.description}`,
    '',
    throughputTable(app, data),
    '',
    [
      sleep.naive.tooManyConnections + app.naive.tooManyConnections > 0
        ? `The naive pool opens up to ${naivePoolSize} connections for a role allowed ${connections}: each connection beyond the limit is refused with 53300 and the query that needed it fails, as postgres.js does not retry (${n(sleep.naive.tooManyConnections)} such failures on \`pg_sleep\` and ${n(app.naive.tooManyConnections)} on the app's query in the median rounds above).`
        : `The naive pool may open up to ${naivePoolSize} connections for a role allowed ${connections}; in this run's median rounds none of its queries was refused with 53300.`,
      `The pool of ${connections} alone keeps the limit but has no priorities, no deadlines and no refusals: under overload (below) ${poolOnlyFailures === 0 ? 'it refused nothing' : `${n(poolOnlyFailures)} of its requests failed`} and every priority waited alike, p99 ${Math.min(...poolOnlyP99s) === Math.max(...poolOnlyP99s) ? ms(Math.min(...poolOnlyP99s)) : `${ms(Math.min(...poolOnlyP99s))}–${ms(Math.max(...poolOnlyP99s))}`} ms, against ${ms(urgentP99('HIGH'))} ms for HIGH through db-safeguards${runs.length > 1 ? ` (its median p99 over ${runs.length} runs)` : ''}.`,
    ].join(' '),
    '',
    `## Overload: open loop at ${overload.factor}× the ceiling (best of 1/1b/4)`,
    '',
    `${n(overload.offeredPerSecond)} requests/s offered for ${data.durationMs / 1000} s (the ceiling, best of 1/1b/4, is ${n(sleepCeiling.throughput)}/s: case ${sleepCeiling.label}), the query being \`pg_sleep(${data.queryCostMs / 1000})\`, mixed ${overload.mix.map((cls) => `${percentOf(cls.share)} ${cls.name}`).join(', ')}. Unloaded p99 through db-safeguards: CRITICAL ${ms(overload.unloaded.CRITICAL)} ms, HIGH ${ms(overload.unloaded.HIGH)} ms.`,
    '',
    overloadTable(
      `db-safeguards (defaults: queue of ${data.queue.maxQueueSize}, ${describeShedding(data.queue)})${runs.length > 1 ? `: ${shownRun >= 0 ? `run ${shownRun + 1}` : 'the run'} of ${runs.length}, the median by the worse of its CRITICAL and HIGH p99 multiples` : ''}`,
      guarded,
    ),
    '',
    overloadTable(
      `4. Pool only: postgres.js max ${connections}, no safeguards (everything queues in the driver)`,
      overload.poolOnly,
    ),
    '',
    overloadTable(`3. Naive: pool of ${naivePoolSize}, no safeguards`, overload.naive),
    '',
  );
  if (pipeline) {
    lines.push(
      '## Pipeline overhead against cockatiel and p-queue',
      '',
      `The full \`run\` pipeline (breaker, budget, deadline, retry bookkeeping, AsyncLocalStorage) on a no-op operation, against a bare call, cockatiel ${pipeline.peers.cockatiel} (retry + circuit breaker + bulkhead) and p-queue ${pipeline.peers['p-queue']}, median of interleaved rounds. Run within \`${data.command}\` as \`${pipeline.command}\` (on its own: \`pnpm bench\`).`,
      '',
      `| case | sequential ns/op | ${n(pipeline.concurrency)} concurrent ns/op |`,
      '|---|---:|---:|',
      ...pipeline.results.map((r) => `| ${r.name} | ${n(r.sequentialNs)} | ${n(r.concurrentNs)} |`),
      '',
      `The target is relative: at most ${cockatielTarget} × cockatiel's stack. The former absolute target of under 1 µs per operation is retired: a request to the sample app costs milliseconds of CPU (tRPC, JSON, the driver), so a microsecond of the pipeline is not what its users feel, and chasing it traded readability for nanoseconds. What a user feels under overload is the cost of a refusal next to a served call: \`pnpm bench:refusal-cost\`.`,
      '',
    );
  }
  if (refusalCost) {
    lines.push(
      '## The cost of a refused call',
      '',
      `Two sample-app processes (4 connections each) on a throwaway PostgreSQL of their own (role limited to 8), alike but for one rate limit: one serves every dose-history read (\`administrations.history\`, NORMAL, 50 rows), the other allows one \`api\` call per user a minute, so its reads are refused with RATE_LIMIT (429) by the safeguards. Each round sends ${n(refusalCost.callsPerRound)} reads to each, ${refusalCost.concurrency} at a time, and reads each app's own CPU time from its \`/metrics\` before and after; LOG_LEVEL=${refusalCost.logLevel}. Every round is shown: the machine is shared, so the ratio within a round is the figure. Run within \`${data.command}\` as \`${refusalCost.command}\`.`,
      '',
      '| round | served: CPU µs per call | refused: CPU µs per call | refused / served |',
      '|---:|---:|---:|---:|',
      ...refusalCost.rounds.map(
        (round, i) =>
          `| ${i + 1} | ${n(round.servedCpuUs)} | ${n(round.refusedCpuUs)} | ${n(round.ratio, 2)}× |`,
      ),
      '',
      "What a refusal is made of: `--profile DIR` writes the refusing app's CPU profile, which after its warm-up does nothing but refuse. In a profile of 2026-12-07, the refused request's log line (its error serialised and written) was 15–19 % of a refusal's CPU; the app now logs the first five refused requests of each kind a second in full and counts the rest in one line every 10 s (`apps/vetmed/src/server/refusal-log.ts`). The same profile showed an error's debug line built for a logger at `warn`, the URL parsed twice and the whole query string decoded to read `batch=1`; all cut. In the profile after the cuts, of a refusal's CPU the edge's decision (the rate-limit check, the refusal error, the answer from its template, the caller's identity) is about 30 %, writing the answer (Node's `writeHead`, `end` and the socket write) about 22 %, and Node's parsing of the request, its events and the access line's metrics most of the rest.",
      '',
    );
  }
  lines.push(
    '## The sample app under load',
    '',
    `The load tool (\`pnpm loadtest\`) drives the running sample app over HTTP with its tRPC client, open loop: record a dose (HIGH), read a dose history (NORMAL), an adherence report (LOW), a bulk import of ${n(data.importRows)} doses (BATCH). Every user starts with a full page of 50 past doses, so a history read does the same work from the first second of a run to the last. \`--db-latency MS\` puts a proxy of our own between the app and PostgreSQL that delays every chunk MS ms in each direction, so each round trip takes 2 × MS ms longer, as with a remote database such as Neon.${defaultLimits?.peakDbConnections != null ? ` The run without it below peaked at ${defaultLimits.peakDbConnections} of the role's ${connections} database connections.` : ''} \`--unlimited\` raises the rate limits so that what is measured is the budget. Latency percentiles are of successful requests; the failed ones have their own p99 column.`,
    '',
  );
  for (const run of data.loadtests) {
    const repeated =
      run.runs && run.runs.length > 1
        ? [
            `Run ${run.runs.length} times; shown: the median run by HIGH p99. HIGH p99 of the runs: ${run.runs.map((r) => `${ms(r.byPriority.HIGH.latencyMs.p99)} ms`).join(', ')}; throughput ${run.runs.map((r) => `${n(r.throughput, 1)}`).join(', ')} ok/s.`,
            '',
          ]
        : [];
    lines.push(
      `### ${run.label}`,
      '',
      `\`${run.command}\``,
      '',
      ...repeated,
      '```',
      formatLoadReport(run.report),
      '```',
      '',
    );
  }
  return `${lines.join('\n')}\n`;
}
