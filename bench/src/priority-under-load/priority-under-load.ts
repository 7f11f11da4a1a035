/**
 * Urgent work under overload of the app's own CPU: one sample-app process on a throwaway PostgreSQL
 * whose app role has CONNECTION LIMIT 8 (issue 15's open-loop case).
 *
 * 1. Capacity: 32 closed-loop clients reading dose histories (NORMAL) and 2 recording doses (HIGH)
 *    for the phase's length: the app's closed-loop capacity, in answered calls a second. Measured on
 *    a process of its own with the event-loop utilisation target off: the yardstick is the most the
 *    app serves, not what it serves while it keeps room to read urgent requests (closed-loop clients
 *    that ask again at once when refused would otherwise lower it).
 * 2. Open loop: dose recordings (HIGH) arriving at 10 a second, beside history reads arriving at
 *    0.3 × that capacity, then at 3 × it. Arrivals do not wait for answers, as real users' don't.
 *    The recordings are sent and timed from a process of their own (a side process): this one's
 *    event loop is busy sending and reading thousands of reads a second, and a latency measured
 *    here would include its own delays. Real users' urgent calls come from their own machines.
 *
 * Judged: HIGH p99 at 3× ≤ 3 × HIGH p99 at 0.3×; no HIGH call failed; goodput at 3× (calls answered
 * with success within the phase, a second) ≥ 0.85 × the capacity.
 *
 * Usage: pnpm bench:priority [-- --duration 10 --rounds 1 --app-env KEY=VALUE,... --json FILE --reads-via lean|trpc --profile DIR]
 *
 * `--profile DIR` starts the app (not the yardstick) under `node --cpu-prof` and writes its profile to
 * DIR when it stops: its light and heavy phases, the heavy one the bulk of it (figures then include
 * the profiler's cost).
 *
 * The machine is shared and noisy: every round is printed, and ratios are taken within a round.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { textOption } from '../cli-options.js';
import { parseAppEnv } from '../loadtest/app-env.js';
import { type AppProcess, startAppProcess } from '../loadtest/app-process.js';
import { type AppProcessLoad, sampleAppProcess } from '../loadtest/app-process-sampler.js';
import { withLeanHistoryReads } from '../loadtest/lean-history-read.js';
import { type LoopClient, runClosedLoop } from '../loadtest/multi-instance/closed-loop.js';
import { type RequestRecord, runOpenLoop } from '../loadtest/open-loop.js';
import {
  createClient,
  createVirtualUsers,
  runScenario,
  type ScenarioName,
  type VirtualUser,
} from '../loadtest/scenarios.js';
import { startSideProcess } from '../loadtest/side-process/side-process.js';
import { summarize } from '../loadtest/stats.js';
import { unlimitedRateLimitsEnv } from '../loadtest/unlimited-rate-limits.js';
import { machineDescription } from '../machine.js';
import { outputPath } from '../output-path.js';
import {
  formatRound,
  type OpenLoopPhase,
  type PriorityReport,
  type PriorityRound,
} from './priority-report.js';

function numberOption(name: string, fallback: number): number {
  const raw = textOption(name);
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

/** Dose recordings (HIGH) a second in the open-loop phases. */
const highPerSecond = 10;
const readers = 32;
const recorders = 2;
const warmUpMs = 3000;

/**
 * History reads sent by the lean reader (no tRPC client, successful answers not decoded: see
 * lean-history-read.ts), everything else by the tRPC client. The generator shares the app's 2 cores;
 * at 3 × capacity the tRPC client's own CPU took a visible share of them. `--reads-via trpc`: every
 * call through the tRPC client, as before the lean reader (to compare).
 */
function leanReads(baseUrl: string): (scenario: ScenarioName, user: VirtualUser) => Promise<unknown> {
  return textOption('reads-via') === 'trpc' ? runScenario : withLeanHistoryReads(baseUrl);
}

function failuresOf(
  records: readonly Pick<RequestRecord, 'ok' | 'errorType' | 'reason'>[],
): Record<string, number> {
  const failures: Record<string, number> = {};
  for (const r of records) {
    if (r.ok) continue;
    const key = r.reason ? `${r.errorType}/${r.reason}` : (r.errorType ?? 'UNKNOWN');
    failures[key] = (failures[key] ?? 0) + 1;
  }
  return failures;
}

function summariseOpenLoop(
  records: readonly RequestRecord[],
  durationMs: number,
  normalPerSecond: number,
  app: AppProcessLoad | undefined,
  generatorLagP99Ms: number,
  generatorCpuCores: number,
) {
  const high = records.filter((r) => r.priority === 'HIGH');
  const normal = records.filter((r) => r.priority === 'NORMAL');
  const highLatency = summarize(high.filter((r) => r.ok).map((r) => r.latencyMs));
  const okInPhase = records.filter((r) => r.ok && r.completedAtMs <= durationMs).length;
  return {
    normalPerSecond,
    highSent: high.length,
    highOk: high.filter((r) => r.ok).length,
    highP50Ms: highLatency.p50,
    highP99Ms: highLatency.p99,
    slowestHigh: high
      .filter((r) => r.ok)
      .sort((a, b) => b.latencyMs - a.latencyMs)
      .slice(0, 3)
      .map((r) => ({ sentAtMs: Math.round(r.sentAtMs), latencyMs: Math.round(r.latencyMs) })),
    highFailures: failuresOf(high),
    normalSent: normal.length,
    normalOk: normal.filter((r) => r.ok).length,
    normalFailures: failuresOf(normal),
    goodputPerSecond: okInPhase / (durationMs / 1000),
    app,
    generatorLagP99Ms,
    generatorCpuCores,
  } satisfies OpenLoopPhase;
}

async function runRound(
  app: AppProcess,
  yardstick: AppProcess,
  metricsToken: string,
  durationMs: number,
  log: (line: string) => void,
  yardstickDone: () => Promise<void>,
): Promise<PriorityRound> {
  const users = await createVirtualUsers(app.url, readers + recorders);
  const clients: LoopClient[] = users.map((user, i) => ({
    instance: 0,
    user,
    // The yardstick process shares the database, so the same users are signed in there.
    client: createClient(yardstick.url, user.headers),
    scenario: i < recorders ? 'record' : 'list',
  }));
  // A process's first seconds of load cost it more CPU than the rest (JIT, pools, caches): measured,
  // the app used 0.69 cores in the first round's light phase against 0.35-0.38 in the later rounds'.
  // Both processes get the same closed loop, unmeasured, first.
  log(
    `  warming up the yardstick and the app (${warmUpMs / 1000} s of the closed loop each, not measured)...`,
  );
  await runClosedLoop({ clients, durationMs: warmUpMs, call: leanReads(yardstick.url) });
  await runClosedLoop({
    clients: clients.map((c) => ({ ...c, client: c.user.client })),
    durationMs: warmUpMs,
    call: leanReads(app.url),
  });
  log(
    `  capacity: ${readers} history readers and ${recorders} dose recorders, closed loop, ${durationMs / 1000} s...`,
  );
  const yardstickLoad = sampleAppProcess(yardstick.url, metricsToken);
  const closed = await runClosedLoop({ clients, durationMs, call: leanReads(yardstick.url) });
  const capacityApp = yardstickLoad.stop();
  const capacityOk = closed.filter((r) => r.ok && r.endedAtMs <= durationMs).length;
  const capacityPerSecond = capacityOk / (durationMs / 1000);
  const capacityFailures = failuresOf(closed);
  await yardstickDone();
  const phase = async (factor: number) => {
    const normalPerSecond = Math.max(1, Math.round(capacityPerSecond * factor));
    log(
      `  open loop: ${highPerSecond} recordings/s beside ${normalPerSecond} reads/s (${factor} × capacity)...`,
    );
    const appLoad = sampleAppProcess(app.url, metricsToken);
    const urgent = await startSideProcess({
      kind: 'open-loop',
      baseUrl: app.url,
      users: users.map(({ client: _, ...portable }) => portable),
      ratePerSecond: highPerSecond,
      durationMs,
      mix: { record: 1, list: 0, report: 0, import: 0 },
      drainMs: 30_000,
      warmUpCalls: 3,
    });
    const generatorLag = monitorEventLoopDelay({ resolution: 10 });
    generatorLag.enable();
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    urgent.go();
    const [reads, recordings] = await Promise.all([
      runOpenLoop({
        users,
        ratePerSecond: normalPerSecond,
        durationMs,
        mix: { record: 0, list: 1, report: 0, import: 0 },
        maxInFlight: 100_000,
        drainMs: 30_000,
        call: leanReads(app.url),
      }),
      urgent.result,
    ]);
    generatorLag.disable();
    const cpu = process.cpuUsage(cpuBefore);
    const generatorCpuCores = (cpu.user + cpu.system) / 1000 / (performance.now() - wallBefore);
    return summariseOpenLoop(
      [...reads.records, ...recordings],
      durationMs,
      normalPerSecond,
      appLoad.stop(),
      generatorLag.percentile(99) / 1e6,
      generatorCpuCores,
    );
  };
  const light = await phase(0.3);
  const heavy = await phase(3);
  return {
    capacityPerSecond,
    capacityFailures,
    ...(capacityApp === undefined ? {} : { capacityApp }),
    light,
    heavy,
    highP99Ratio: heavy.highP99Ms / Math.max(1, light.highP99Ms),
    goodputRatio: heavy.goodputPerSecond / capacityPerSecond,
  };
}

async function main(): Promise<void> {
  const readsVia = textOption('reads-via') ?? 'lean';
  if (readsVia !== 'lean' && readsVia !== 'trpc') throw new Error('--reads-via must be lean or trpc');
  const durationMs = numberOption('duration', 10) * 1000;
  const rounds = numberOption('rounds', 1);
  const log = (line: string) => console.error(line);
  let server: TestPostgres | undefined;
  let app: AppProcess | undefined;
  let yardstick: AppProcess | undefined;
  const results: PriorityRound[] = [];
  const metricsToken = randomBytes(18).toString('hex');
  try {
    server = await startTestPostgres({ appRoleConnectionLimit: 8 });
    const env = {
      DATABASE_URL: server.appUrl,
      METRICS_TOKEN: metricsToken,
      TRUST_PROXY: '127.0.0.1',
      SEED_DEMO: 'false',
      ...unlimitedRateLimitsEnv,
      ...parseAppEnv(textOption('app-env')),
    };
    app = await startAppProcess(env, textOption('profile'));
    for (let i = 0; i < rounds; i++) {
      log(`Round ${i + 1} of ${rounds}...`);
      // Started and stopped around its phase: an idle process beside the app would still cost it CPU.
      yardstick = await startAppProcess({ ...env, LOAD_UTILIZATION_TARGET: 'off' });
      const round = await runRound(app, yardstick, metricsToken, durationMs, log, async () => {
        await yardstick?.stop();
        yardstick = undefined;
      });
      results.push(round);
      console.log(`${formatRound(round, i, durationMs)}\n`);
    }
  } finally {
    await yardstick?.stop();
    await app?.stop();
    await server?.stop();
  }
  const json = textOption('json');
  if (json) {
    writeFileSync(
      outputPath(json),
      `${JSON.stringify(
        {
          schemaVersion: 1,
          command: `pnpm bench:priority -- ${process.argv
            .slice(2)
            .filter((arg) => arg !== '--')
            .join(' ')}`.trim(),
          machine: machineDescription(),
          durationMs,
          generatedAt: new Date().toISOString(),
          rounds: results,
        } satisfies PriorityReport,
        null,
        2,
      )}\n`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
