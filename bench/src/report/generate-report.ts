/**
 * Regenerates docs/benchmarks.md (and docs/benchmarks.json): every case measured in one run on a real
 * PostgreSQL whose app role has CONNECTION LIMIT 8.
 *
 *   pnpm bench:report            (from the repository root; builds what it needs first)
 *   tsx src/report/generate-report.ts [--quick]
 *   tsx src/report/generate-report.ts --render-only   (re-renders the .md from the last run's .json:
 *                                                      for a change of wording, never of figures)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { defaultQueueOptions } from '@db-safeguards/core/advanced';
import { startTestPostgres } from '@db-safeguards/test-postgres';
import postgres from 'postgres';
import { describeDbLatency } from '../loadtest/describe-db-latency.js';
import type { LoadReport } from '../loadtest/load-report.js';
import { importRows } from '../loadtest/scenarios.js';
import { renderPrioritySection } from '../priority-under-load/priority-report.js';
import { renderServedCostSection } from '../served-cost/served-cost-report.js';
import { applyAppMigrations } from './app-migrations.js';
import {
  caseShape,
  ceilingOf,
  type OpenPool,
  overloadCases,
  overloadMix,
  type Query,
  throughputCases,
} from './connection-cases.js';
import { medianByHighP99 } from './judge-sample-app-overload.js';
import { renderMultiInstanceSection } from './render-multi-instance.js';
import { renderReport } from './render-report.js';
import { renderSimulationSection } from './render-simulation.js';
import { reportCommand } from './report-command.js';
import { type LoadtestId, type ReportData, reportSchemaVersion } from './report-data.js';
import { n } from './report-tables.js';

const command = reportCommand(process.argv.slice(2));
const quick = process.argv.includes('--quick');
const renderOnly = process.argv.includes('--render-only');
const durationMs = quick ? 2000 : 5000;
/** Database time of the fixed-cost query. */
const queryCostMs = 5;
/** Doses in the table the app's query reads. */
const appRows = 20_000;
/** The open-loop overload runs offer this multiple of the ceiling. */
const overloadFactor = 5;
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const docsDir = `${repoRoot}docs/`;

/** The version of a dependency as installed (its own package.json), for the report to quote. */
function installedVersion(name: string): string {
  const manifest = fileURLToPath(new URL(`../../node_modules/${name}/package.json`, import.meta.url));
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/** How many times the sample app's overload run is repeated (its median is judged). */
const sampleAppOverloadRepeats = 3;

function runLoadtest(args: string[]): LoadReport {
  const out = `${os.tmpdir()}/db-safeguards-loadtest-${process.pid}-${Date.now()}.json`;
  const script = fileURLToPath(new URL('../loadtest/cli.ts', import.meta.url));
  const result = spawnSync(process.execPath, ['--import', 'tsx', script, ...args, '--out', out], {
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 300_000,
  });
  if (result.status !== 0) throw new Error(`loadtest ${args.join(' ')} failed (${result.status})`);
  return readAndRemoveJson<LoadReport>(out);
}

/** Reads a JSON file a child process wrote for this run, and removes it: nothing is left in tmp. */
function readAndRemoveJson<T>(path: string): T {
  const value = JSON.parse(readFileSync(path, 'utf8')) as T;
  rmSync(path, { force: true });
  return value;
}

/**
 * Appends the sections measured by runs of their own (many instances, the cost of a served call,
 * urgent work in open-loop overload), from their JSON files in docs/, when there are any.
 */
function withMultiInstance(markdown: string): string {
  let text = markdown;
  for (const section of [
    renderMultiInstanceSection(`${docsDir}multi-instance.json`),
    renderSimulationSection(`${docsDir}shared-budget-sim.json`),
    renderServedCostSection(`${docsDir}served-cost.json`),
    renderPrioritySection(`${docsDir}priority-under-load.json`),
  ])
    if (section !== undefined) text = `${text.trimEnd()}\n\n${section}\n`;
  return text;
}

async function main(): Promise<void> {
  if (renderOnly) {
    const data = JSON.parse(readFileSync(`${docsDir}benchmarks.json`, 'utf8')) as ReportData;
    writeFileSync(`${docsDir}benchmarks.md`, withMultiInstance(renderReport(data)));
    console.error(`Re-rendered ${docsDir}benchmarks.md from the run of ${data.generatedAt}`);
    return;
  }
  // First, while nothing else runs: the micro-benchmark is the most sensitive to a busy machine.
  console.error('Pipeline overhead against cockatiel and p-queue...');
  const pipelineJson = `${os.tmpdir()}/db-safeguards-pipeline-${process.pid}.json`;
  execFileSync(
    process.execPath,
    [
      '--expose-gc',
      fileURLToPath(new URL('../pipeline-overhead.mjs', import.meta.url)),
      '--json',
      pipelineJson,
      ...(quick ? ['--quick'] : []),
    ],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const pipeline = {
    ...readAndRemoveJson<
      Pick<NonNullable<ReportData['pipeline']>, 'results' | 'headline' | 'rounds' | 'concurrency'>
    >(pipelineJson),
    command: `node --expose-gc bench/src/pipeline-overhead.mjs${quick ? ' --quick' : ''}`,
    peers: { cockatiel: installedVersion('cockatiel'), 'p-queue': installedVersion('p-queue') },
  };

  console.error(
    `Starting PostgreSQL (embedded) with an app role limited to ${caseShape.connections} connections...`,
  );
  const server = await startTestPostgres({
    appRoleConnectionLimit: caseShape.connections,
    maxConnections: 60,
  });
  try {
    // The app's own schema (every migration, in its journal's order) and data, for the "real
    // query" (a dose history page).
    const setup = postgres(server.appUrl, { max: 1, onnotice: () => undefined });
    await applyAppMigrations(setup);
    const [ids] = await setup<[{ animal: string }]>`
      with u as (insert into users (email, name, password_hash) values ('bench@example.test', 'Bench', 'x') returning id),
           h as (insert into households (name) values ('Bench') returning id),
           a as (insert into animals (household_id, name, species) select id, 'Rex', 'dog' from h returning id, household_id),
           m as (insert into medications (household_id, name, form) select household_id, 'Carprofen', 'tablet' from a returning id),
           r as (insert into regimens (animal_id, medication_id, dose_amount, dose_unit, schedule_kind, times_per_day)
                 select a.id, m.id, 1, 'tablet', 'times_per_day', 2 from a, m returning id, animal_id)
      insert into administrations (regimen_id, animal_id, dose_amount, dose_unit, recorded_at, idempotency_key)
      select r.id, r.animal_id, 1, 'tablet', now() - (g || ' hours')::interval, 'bench-dose-' || g from r, generate_series(1, ${appRows}::int) g
      returning animal_id as animal`;
    const animalId = ids!.animal;
    // Fresh rows: set their hint bits and the planner's statistics now, not during the first case.
    await setup`vacuum analyze administrations`;
    const [version] = await setup<[{ version: string }]>`select version()`;
    await setup.end();

    const open: OpenPool = (max) =>
      postgres(server.appUrl, { max, onnotice: () => undefined, connect_timeout: 5 });
    const queries: Record<string, { description: string; query: Query }> = {
      sleep: {
        description: `\`select pg_sleep(${queryCostMs / 1000})\`: a fixed ${queryCostMs} ms of database work`,
        query: (sql) => sql`select pg_sleep(${queryCostMs / 1000})`,
      },
      app: {
        description: `the app's dose history page: \`select * from administrations where animal_id = $1 order by recorded_at desc limit 50\` over ${n(appRows)} rows`,
        query: (sql) =>
          sql`select * from administrations where animal_id = ${animalId} order by recorded_at desc limit 50`,
      },
    };

    const data: ReportData = {
      schemaVersion: reportSchemaVersion,
      generatedAt: new Date().toISOString(),
      command,
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        platform: `${os.platform()} ${os.arch()}`,
        postgres: version!.version.split(' on ')[0]!,
      },
      durationMs,
      budget: {
        maxConcurrentConnections: defaultQueueOptions.maxConcurrentConnections,
        reservedForCritical: defaultQueueOptions.reservedForCritical,
      },
      queue: { maxQueueSize: defaultQueueOptions.maxQueueSize, shedAt: { ...defaultQueueOptions.shedAt } },
      shape: { ...caseShape },
      queryCostMs,
      queries: {},
      overload: undefined as unknown as ReportData['overload'],
      pipeline,
      loadtests: [],
      importRows,
    };
    for (const [name, { description, query }] of Object.entries(queries)) {
      console.error(`Throughput cases with ${name}...`);
      data.queries[name] = { description, throughput: await throughputCases(open, query, durationMs) };
    }
    const ceiling = ceilingOf(data.queries.sleep!.throughput).throughput;
    console.error(`Overload cases at ${overloadFactor} × ${ceiling.toFixed(0)}/s...`);
    data.overload = {
      ...(await overloadCases(open, queries.sleep!.query, ceiling, overloadFactor, durationMs)),
      factor: overloadFactor,
      query: 'sleep',
      mix: overloadMix.map(({ name, share }) => ({ name, share })),
    };

    const loadDuration = String(quick ? 5 : 15);
    // The same users and duration everywhere; the `--db-latency` runs delay each chunk that many ms each way.
    const dbLatencyMs = 5;
    const overLatency = (rate: number) =>
      `--start postgres --db-latency ${dbLatencyMs} --users 20 --rate ${rate} --duration ${loadDuration} --unlimited --mix record=1,list=3,report=3,import=3`;
    const runs: Array<[LoadtestId, string, string]> = [
      [
        'pglite',
        'PGlite, 50 req/s (comfortable)',
        `--start pglite --users 20 --rate 50 --duration ${loadDuration} --unlimited`,
      ],
      [
        'latency-comfortable',
        `PostgreSQL, ${describeDbLatency(dbLatencyMs)}, 60 req/s (comfortable)`,
        overLatency(60),
      ],
      [
        'latency-overload',
        `PostgreSQL, ${describeDbLatency(dbLatencyMs)}, 300 req/s (overload)`,
        overLatency(300),
      ],
      [
        'default-limits',
        'PostgreSQL, default rate limits, 200 req/s',
        `--start postgres --users 20 --rate 200 --duration ${loadDuration}`,
      ],
    ];
    for (const [id, label, argText] of runs) {
      const args = argText.split(' ');
      // The overload run's p99 varies from run to run on a shared machine: it is judged on its median.
      const repeats = id === 'latency-overload' && !quick ? sampleAppOverloadRepeats : 1;
      const reports: LoadReport[] = [];
      for (let i = 0; i < repeats; i++) {
        console.error(`Load test: ${label}${repeats > 1 ? ` (run ${i + 1} of ${repeats})` : ''}...`);
        reports.push(runLoadtest(args));
      }
      data.loadtests.push({
        id,
        label,
        command: `pnpm loadtest -- ${args.join(' ')}`,
        report: medianByHighP99(reports),
        ...(repeats > 1 ? { runs: reports } : {}),
      });
    }

    console.error('The CPU of a refused call against a served history read...');
    const refusalJson = `${os.tmpdir()}/db-safeguards-refusal-cost-${process.pid}.json`;
    execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('../refusal-cost/refusal-cost.ts', import.meta.url)),
        '--rounds',
        quick ? '2' : '5',
        '--calls',
        quick ? '300' : '1000',
        '--json',
        refusalJson,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'], timeout: 600_000 },
    );
    data.refusalCost = readAndRemoveJson<NonNullable<ReportData['refusalCost']>>(refusalJson);

    mkdirSync(docsDir, { recursive: true });
    writeFileSync(`${docsDir}benchmarks.json`, `${JSON.stringify(data, null, 2)}\n`);
    writeFileSync(`${docsDir}benchmarks.md`, withMultiInstance(renderReport(data)));
    console.error(`Wrote ${docsDir}benchmarks.md`);
  } finally {
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
