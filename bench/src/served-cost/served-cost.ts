/**
 * What the safeguards cost a served call, in the server's CPU: the sample app (built, `node
 * apps/vetmed/dist/main.js`) next to a bare tRPC + Drizzle server doing the same queries for the same
 * two calls (./bare-server.ts), in the same run, on one throwaway PostgreSQL (role limited to 8, 4
 * connections each), with the same users and data.
 *
 * Each run sends one server the same paced load: `--rate` calls a second for `--seconds`, one in
 * `--record-every` a dose recording (`administrations.record`, HIGH), the rest dose-history reads
 * (`administrations.history`, NORMAL, 50 rows), spread over the users. Both servers get their load at
 * the same time (`--mode side-by-side`, the default) or in turn (`--mode alternate`: app, bare,
 * app, bare...). Each pair gives a ratio. The CPU is the server process's own (user + system, from
 * /proc/<pid>/stat, which neither server can skew), from before the first call of the run to after
 * its last answer, divided by the calls served.
 *
 * Usage: pnpm bench:served-cost [-- --compare app --mode side-by-side --pairs 6 --rate 50 --seconds 10 --warmup 60 --record-every 10 --users 16
 *   --log-level info --app-env KEY=VALUE,... --bare-env KEY=VALUE,... --idle-seconds 16 --profile DIR --json FILE]
 * `--log-level` is the app's LOG_LEVEL (default: the app's own default, info). `--app-env` adds settings
 * to the app's environment. `--threads` prints each server's CPU in each run by thread, and its user and
 * kernel (system) time. `--load-readings` prints the highest load readings of the app
 * (its detailed health, read every second: a little CPU of its own) in each of its runs. `--json FILE` writes every run (a
 * `ServedCostReport`: docs/served-cost.json is rendered into docs/benchmarks.md). `--profile DIR` starts both servers with `node --cpu-prof` and writes DIR/run-windows.json, when each run began and ended on the profiles' clock (their figures
 * then include the profiler's cost) and writes their profiles to DIR when they stop.
 *
 * `--compare adopted` measures, instead of the sample app, the bare server with db-safeguards adopted
 * as the packages' READMEs show (`SAFEGUARDS=on` in ./bare-server.ts: guarded Drizzle, the tRPC
 * middleware, error formatter and headers): what the safeguards cost apart from the app's own
 * features; `--adopted-parts trpc|drizzle` adopts only one of them. The app still runs (the users are
 * created through it) and idles; `--json` is refused.
 *
 * The machine is shared and noisy: every run is printed; the ratio is taken within a pair.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { countOption, textOption } from '../cli-options.js';
import { type AppProcess, appMain, cpuProfileFlags, startServerProcess } from '../loadtest/app-process.js';
import { createClient, createVirtualUsers, type VirtualUser } from '../loadtest/scenarios.js';
import { unlimitedRateLimitsEnv } from '../loadtest/unlimited-rate-limits.js';
import { machineDescription } from '../machine.js';
import { outputPath } from '../output-path.js';
import type { ServedCostReport } from './served-cost-report.js';

const pairs = countOption('pairs', 6);
const rate = countOption('rate', 50);
const seconds = countOption('seconds', 10);
const recordEvery = countOption('record-every', 10);
const warmupSeconds = countOption('warmup', 60);
const userCount = countOption('users', 16);
const logLevel = textOption('log-level') ?? 'info';
const profileDir = textOption('profile');
const jsonPath = textOption('json');
/**
 * After the pairs, both servers' CPU over this many seconds with no calls: what each spends whatever
 * the load (timers, samplers, metrics). At 50 calls a second, 1 ms of it a second is 20 µs a call.
 * Read in two windows: the first `idleSettleSeconds` (the app's event-loop probe slows down 5 s after
 * the last call), then the rest.
 */
const idleSeconds = countOption('idle-seconds', 16);
const idleSettleSeconds = Math.min(6, idleSeconds);
/**
 * `side-by-side` (default): in each pair both servers get their load at the same time, over the same
 * seconds, so whatever else the machine does then weighs on both, and neither sits idle between its
 * runs. `alternate`: app, then bare, as the first versions of this bench did; each server then idles
 * while the other runs. Measured that way on 2026-12-07 (warm-up 60 s), the app's CPU per call fell
 * run after run (7,120, 5,640, 5,120, 4,940, 5,020, 4,140 µs) while the bare server's stayed within
 * 3,200-3,820: a process resuming after an idle spell pays for it (V8 shrinks its heap and may drop
 * compiled code while idle), and the app, with more code, pays more.
 */
function parseMode(value: string): 'side-by-side' | 'alternate' {
  if (value === 'side-by-side' || value === 'alternate') return value;
  throw new Error(`--mode: expected side-by-side or alternate, got ${value}`);
}
const mode = parseMode(textOption('mode') ?? 'side-by-side');
/** What is set against the bare server: the sample app (default) or the bare server with the safeguards adopted. */
const compare = textOption('compare') ?? 'app';
if (compare !== 'app' && compare !== 'adopted')
  throw new Error(`--compare: expected app or adopted, got ${compare}`);
if (compare === 'adopted' && jsonPath !== undefined)
  throw new Error("--json writes the sample app's report: not with --compare adopted");
/** With `--compare adopted`: which parts the bare server adopts (its SAFEGUARDS: on, trpc or drizzle). */
const adoptedParts = textOption('adopted-parts') ?? 'on';
if (!['on', 'trpc', 'drizzle'].includes(adoptedParts))
  throw new Error(`--adopted-parts: expected on, trpc or drizzle, got ${adoptedParts}`);
/** The name of the server set against the bare one, in what is printed. */
const subject = compare === 'adopted' ? 'adopted' : 'app';
const sideBySide = mode === 'side-by-side';
/** `KEY=VALUE,...` of an `--<name>` option as an object. */
function envOption(name: string): Record<string, string> {
  return Object.fromEntries(
    (textOption(name) ?? '')
      .split(',')
      .filter(Boolean)
      .map((pair) => {
        const at = pair.indexOf('=');
        if (at < 1) throw new Error(`--${name}: ${pair} is not KEY=VALUE`);
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
  );
}
const extraAppEnv = envOption('app-env');
/** For experiments on the bare server (e.g. NODE_OPTIONS=--inspect=...): the app's own is `--app-env`. */
const extraBareEnv = envOption('bare-env');
const dosesPerUser = 50;
const maxInFlight = 256;

const bareServer = fileURLToPath(new URL('./bare-server.ts', import.meta.url));
const clockTicks = 100; // USER_HZ: what /proc reports CPU time in on Linux

/** The process's (or one thread's) CPU time so far in user space and in the kernel, in ms. */
function cpuParts(pid: number, task?: string): { userMs: number; systemMs: number } {
  const stat = readFileSync(
    task === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${task}/stat`,
    'utf8',
  );
  // Fields after the command name (which may hold spaces, inside parentheses): state is the first,
  // utime the 12th, stime the 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    userMs: (Number(fields[11]) * 1000) / clockTicks,
    systemMs: (Number(fields[12]) * 1000) / clockTicks,
  };
}

/** The process's CPU time so far (user + system), in ms. */
function cpuMs(pid: number, task?: string): number {
  const { userMs, systemMs } = cpuParts(pid, task);
  return userMs + systemMs;
}

/** CPU ms of each thread of the process, by thread name (`--threads`: where a server's CPU goes). */
function threadCpuMs(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      // Node leaves most of its threads named after the process: the main thread is told by its id.
      const comm = readFileSync(`/proc/${pid}/task/${task}/comm`, 'utf8').trim();
      const name = task === String(pid) ? 'main' : comm;
      byName.set(name, (byName.get(name) ?? 0) + cpuMs(pid, task));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return byName;
}
const showThreads = process.argv.includes('--threads');
/** `--load-readings`: the app's load readings (its detailed health) every second of its runs. */
const showLoadReadings = process.argv.includes('--load-readings');
const adminToken = randomBytes(18).toString('hex');

/**
 * Reads the app's load component from its detailed health every second until stopped; returns the
 * highest event-loop delay and utilisation read, and whether it ever shed.
 */
function watchLoad(url: string) {
  const seen = { delayMs: 0, utilization: 0, heapMb: 0, rssMb: 0, readings: 0, degraded: [] as string[] };
  const read = async () => {
    try {
      const response = await fetch(`${url}/api/health?detailed=true`, {
        headers: { authorization: `Bearer ${adminToken}` },
      });
      const report = (await response.json()) as { components: { load: { status: string; message: string } } };
      const { status, message } = report.components.load;
      const number = (pattern: RegExp) => Number(pattern.exec(message)?.[1] ?? 0);
      seen.readings++;
      seen.delayMs = Math.max(seen.delayMs, number(/event-loop delay p99 (\d+) ms/));
      seen.utilization = Math.max(seen.utilization, number(/event-loop utilisation (\d+)%/));
      seen.heapMb = Math.max(seen.heapMb, number(/heap used (\d+) MB/));
      seen.rssMb = Math.max(seen.rssMb, number(/RSS (\d+) MB/));
      if (status !== 'healthy') seen.degraded.push(message);
    } catch {
      // A reading lost under load is not the run's failure.
    }
  };
  const timer = setInterval(() => void read(), 1000);
  return () => {
    clearInterval(timer);
    return seen;
  };
}

const median = (values: readonly number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const percentile = (values: number[], p: number) =>
  values.length === 0
    ? 0
    : [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!;

interface RunResult {
  served: number;
  failed: string[];
  droppedByClient: number;
  cpuMs: number;
  cpuUsPerServed: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * When each measured run (and warm-up) began and ended, on the monotonic clock in µs: the clock of a
 * CPU profile's sample times, so `--profile` readers can keep only the samples of the measured runs
 * (the app's profile also holds the set-up: users and their doses are created through it).
 */
const runWindows: Array<{ pid: number; fromUs: number; toUs: number; measured?: boolean; idle?: boolean }> =
  [];

/** Paced (open-loop) calls at `rate` a second for `durationMs`, then waits for the last answers. */
let bareUrl: string | undefined;

async function pacedLoad(server: AppProcess, users: VirtualUser[], durationMs: number): Promise<RunResult> {
  const pid = server.child.pid!;
  const latencies: number[] = [];
  const failed: string[] = [];
  let inFlight = 0;
  let droppedByClient = 0;
  const pending = new Set<Promise<void>>();
  const stopWatching = showLoadReadings && server.url !== bareUrl ? watchLoad(server.url) : undefined;
  const before = cpuMs(pid);
  const windowStartUs = process.hrtime.bigint() / 1000n;
  const threadsBefore = showThreads ? threadCpuMs(pid) : undefined;
  const partsBefore = showThreads ? cpuParts(pid) : undefined;
  const start = performance.now();
  const total = Math.round((rate * durationMs) / 1000);
  for (let sent = 0; sent < total; sent++) {
    const due = start + (sent * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    if (inFlight >= maxInFlight) {
      droppedByClient++;
      continue;
    }
    const user = users[sent % users.length]!;
    const began = performance.now();
    const call =
      sent % recordEvery === recordEvery - 1
        ? user.client.administrations.record.mutate({
            regimenId: user.regimenId,
            idempotencyKey: randomUUID(),
          })
        : user.client.administrations.history.query({ animalId: user.animalId, limit: 50 });
    inFlight++;
    const settled = call.then(
      () => {
        latencies.push(performance.now() - began);
      },
      (error: unknown) => {
        const friendly = (error as { data?: { userFriendly?: { type?: string; reason?: string } } }).data
          ?.userFriendly;
        failed.push(friendly ? `${friendly.type} ${friendly.reason}` : String(error));
      },
    );
    const tracked = settled.finally(() => {
      inFlight--;
      pending.delete(tracked);
    });
    pending.add(tracked);
  }
  await Promise.all(pending);
  const spent = cpuMs(pid) - before;
  runWindows.push({ pid, fromUs: Number(windowStartUs), toUs: Number(process.hrtime.bigint() / 1000n) });
  if (stopWatching) {
    const seen = stopWatching();
    console.log(
      `      app load readings (${seen.readings}, highest): event-loop delay ${seen.delayMs} ms, utilisation ${seen.utilization}%, heap ${seen.heapMb} MB, RSS ${seen.rssMb} MB; ${seen.degraded.length === 0 ? 'never shedding' : `shedding in ${seen.degraded.length}: ${seen.degraded[0]}`}`,
    );
  }
  if (threadsBefore) {
    const after = threadCpuMs(pid);
    const parts = [...after].map(
      ([name, ms]) => `${name} ${(ms - (threadsBefore.get(name) ?? 0)).toFixed(0)}`,
    );
    const partsAfter = cpuParts(pid);
    const user = partsAfter.userMs - partsBefore!.userMs;
    const system = partsAfter.systemMs - partsBefore!.systemMs;
    console.log(
      `      ${server.url === bareUrl ? 'bare' : subject} threads (CPU ms): ${parts.join(', ')}; user ${user.toFixed(0)}, system ${system.toFixed(0)}`,
    );
  }
  return {
    served: latencies.length,
    failed,
    droppedByClient,
    cpuMs: spent,
    cpuUsPerServed: latencies.length === 0 ? Number.NaN : (spent * 1000) / latencies.length,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

async function main(): Promise<void> {
  let database: TestPostgres | undefined;
  const servers: AppProcess[] = [];
  try {
    // 4 connections for each server; with --compare adopted the idle app keeps its 4 beside the two.
    database = await startTestPostgres({ appRoleConnectionLimit: compare === 'adopted' ? 12 : 8 });
    const appEnv = {
      DATABASE_URL: database.appUrl,
      DB_DRIVER: 'postgres',
      METRICS_TOKEN: randomBytes(18).toString('hex'),
      ADMIN_TOKEN: adminToken,
      TRUST_PROXY: '127.0.0.1',
      SEED_DEMO: 'false',
      LOG_LEVEL: logLevel,
      // The two servers share the role's 8 connections: 4 each.
      QUEUE_MAX_CONNECTIONS: '4',
      ...unlimitedRateLimitsEnv,
      ...extraAppEnv,
    };
    // The directory is made now: the run windows are written to it before the servers stop and write
    // their profiles.
    const profileFlags = cpuProfileFlags(profileDir);
    const app = await startServerProcess([...profileFlags, appMain], appEnv);
    servers.push(app);
    // The app migrated the database; the bare server uses its tables.
    const databaseUrl = database.appUrl;
    /** ./bare-server.ts with 4 connections, plain or (`SAFEGUARDS`) with the safeguards adopted. */
    const startBareServer = (env: Record<string, string> = {}) =>
      startServerProcess([...profileFlags, '--import', 'tsx', bareServer], {
        DATABASE_URL: databaseUrl,
        POOL_MAX: '4',
        ...env,
        ...extraBareEnv,
      });
    const bare = await startBareServer();
    servers.push(bare);
    bareUrl = bare.url;
    if (profileDir !== undefined)
      console.error(
        `Profiles go to ${profileDir}: the app is pid ${app.child.pid}, the bare server ${bare.child.pid}.`,
      );

    console.error(`Creating ${userCount} users with ${dosesPerUser} doses each...`);
    const users = await createVirtualUsers(app.url, userCount, { doses: dosesPerUser });
    // The same users (tokens, households) against another server.
    const usersOf = (server: AppProcess) =>
      users.map((user) => ({ ...user, client: createClient(server.url, user.headers) }));
    const adopted = compare === 'adopted' ? await startBareServer({ SAFEGUARDS: adoptedParts }) : undefined;
    if (adopted) servers.push(adopted);
    const targets = [
      adopted ? (['adopted', adopted, usersOf(adopted)] as const) : (['app', app, users] as const),
      ['bare', bare, usersOf(bare)] as const,
    ] as const;
    // Warm both up (JIT, session caches, pools) before measuring: a few seconds are not enough, the
    // CPU per call kept falling for a minute in the first runs.
    /** One run of each server, in the order of `targets`: at the same time, or one after the other. */
    const loadBoth = async (durationMs: number): Promise<RunResult[]> => {
      if (sideBySide)
        return Promise.all(targets.map(([, server, clients]) => pacedLoad(server, clients, durationMs)));
      const results: RunResult[] = [];
      for (const [, server, clients] of targets) results.push(await pacedLoad(server, clients, durationMs));
      return results;
    };
    const warmUps = await loadBoth(warmupSeconds * 1000);
    for (const warm of warmUps) {
      // Refusals are the app shedding a rate beyond it (or a busy machine): counted, not fatal.
      if (warm.served === 0) throw new Error(`warm-up failed: ${warm.failed.slice(0, 3).join('; ')}`);
      if (warm.failed.length > 0)
        console.error(`warm-up: ${warm.failed.length} calls not served, e.g. ${warm.failed[0]}`);
    }

    const machine = machineDescription();
    console.log(
      `\nServer CPU per served call: ${adopted ? `the bare server with db-safeguards adopted (SAFEGUARDS=${adoptedParts})` : 'the sample app'} vs a bare tRPC + Drizzle server (${machine})`,
    );
    console.log(
      `${rate} calls/s for ${seconds} s per run (1 in ${recordEvery} a dose recording, the rest 50-row history reads), ${users.length} users, ${sideBySide ? 'both servers loaded at the same time in each pair' : 'runs alternating app, bare'}; app LOG_LEVEL=${logLevel}${Object.keys(extraAppEnv).length > 0 ? `, ${JSON.stringify(extraAppEnv)}` : ''}${profileDir ? ', both under --cpu-prof' : ''}.\n`,
    );
    console.log('run | server | served | failed | CPU ms | CPU µs/served | p50 ms | p99 ms');
    const ratios: number[] = [];
    const perServed = { app: [] as number[], bare: [] as number[] };
    const runs: ServedCostReport['runs'] = [];
    let run = 0;
    for (let pair = 1; pair <= pairs; pair++) {
      const results = await loadBoth(seconds * 1000);
      for (const [index, [name]] of targets.entries()) {
        const result = results[index]!;
        runs.push({
          pair,
          server: name,
          served: result.served,
          failed: result.failed.length + result.droppedByClient,
          cpuMs: result.cpuMs,
          cpuUsPerServed: Math.round(result.cpuUsPerServed),
          p50Ms: Math.round(result.p50Ms * 10) / 10,
          p99Ms: Math.round(result.p99Ms * 10) / 10,
        });
        run++;
        console.log(
          `${String(run).padStart(3)} | ${name.padEnd(6)} | ${String(result.served).padStart(6)} | ${String(result.failed.length + result.droppedByClient).padStart(6)} | ${result.cpuMs.toFixed(0).padStart(6)} | ${result.cpuUsPerServed.toFixed(0).padStart(13)} | ${result.p50Ms.toFixed(1).padStart(6)} | ${result.p99Ms.toFixed(1).padStart(6)}`,
        );
        if (result.failed.length > 0) console.log(`      first failure: ${result.failed[0]}`);
      }
      for (const window of runWindows.slice(-2)) window.measured = true;
      const ratio = results[0]!.cpuUsPerServed / results[1]!.cpuUsPerServed;
      ratios.push(ratio);
      perServed.app.push(results[0]!.cpuUsPerServed);
      perServed.bare.push(results[1]!.cpuUsPerServed);
      console.log(`    pair ${pair}: ${subject} / bare = ${ratio.toFixed(2)}`);
    }
    console.log(
      `\nmedian CPU per served call: ${subject} ${median(perServed.app).toFixed(0)} µs, bare ${median(perServed.bare).toFixed(0)} µs`,
    );
    console.log(
      `${subject} / bare CPU per served call, per pair: ${ratios.map((r) => r.toFixed(2)).join(', ')}; median ${median(ratios).toFixed(2)} (target <= 1.15)`,
    );
    // Idle: no calls to either server, the same seconds for both, in two windows.
    const idleWindow = async (windowSeconds: number): Promise<{ app: number; bare: number }> => {
      const before = targets.map(([, server]) => cpuMs(server.child.pid!));
      const fromUs = Number(process.hrtime.bigint() / 1000n);
      await new Promise((resolve) => setTimeout(resolve, windowSeconds * 1000));
      const toUs = Number(process.hrtime.bigint() / 1000n);
      for (const [, server] of targets) runWindows.push({ pid: server.child.pid!, fromUs, toUs, idle: true });
      const [app, bare] = targets.map(
        ([, server], index) =>
          Math.round(((cpuMs(server.child.pid!) - before[index]!) / windowSeconds) * 10) / 10,
      );
      return { app: app!, bare: bare! };
    };
    const idleWindows: NonNullable<ServedCostReport['idle']> = [];
    for (const [from, to] of [
      [0, idleSettleSeconds],
      [idleSettleSeconds, idleSeconds],
    ] as const) {
      if (to <= from) continue;
      const cpuMsPerSecond = await idleWindow(to - from);
      idleWindows.push({ fromSecond: from, toSecond: to, cpuMsPerSecond });
      console.log(
        `idle CPU ${from}-${to} s after the last call: ${subject} ${cpuMsPerSecond.app.toFixed(1)} ms/s, bare ${cpuMsPerSecond.bare.toFixed(1)} ms/s (at ${rate} calls/s, ${((cpuMsPerSecond.app * 1000) / rate).toFixed(0)} and ${((cpuMsPerSecond.bare * 1000) / rate).toFixed(0)} µs a call)`,
      );
    }
    if (profileDir !== undefined) {
      const windowsPath = path.join(profileDir, 'run-windows.json');
      writeFileSync(windowsPath, `${JSON.stringify(runWindows, null, 2)}\n`);
      console.log(`Run windows (monotonic µs, the profiles' clock) are in ${windowsPath}.`);
    }
    if (jsonPath !== undefined) {
      const report: ServedCostReport = {
        schemaVersion: 1,
        generatedAt: new Date().toISOString(),
        mode,
        command: `pnpm bench:served-cost -- --mode ${mode} --pairs ${pairs} --rate ${rate} --seconds ${seconds} --warmup ${warmupSeconds} --record-every ${recordEvery} --users ${userCount} --log-level ${logLevel} --idle-seconds ${idleSeconds}`,
        machine,
        rate,
        seconds,
        recordEvery,
        users: userCount,
        logLevel,
        appEnv: extraAppEnv,
        runs,
        ratios: ratios.map((ratio) => Math.round(ratio * 100) / 100),
        medianRatio: Math.round(median(ratios) * 100) / 100,
        medianCpuUsPerServed: {
          app: Math.round(median(perServed.app)),
          bare: Math.round(median(perServed.bare)),
        },
        idle: idleWindows,
      };
      writeFileSync(outputPath(jsonPath), `${JSON.stringify(report, null, 2)}\n`);
    }
    console.log(
      'A run with failures (the app shedding for load: the machine was busy) or a p50 far above the others was disturbed by other work on the machine.',
    );
  } finally {
    for (const server of servers) await server.stop();
    await database?.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
