/**
 * What a refused call costs the sample app, next to a served one, in CPU: the figure users feel under
 * overload, when most calls are refused and every refusal's CPU is taken from the calls being served.
 *
 * Two app processes (4 connections each) on one throwaway PostgreSQL (role limited to 8), configured alike but
 * for one limit: `serving` lets every call through, `refusing` allows one `api` call per user a minute,
 * so after a warm-up call each dose-history read (`administrations.history`, NORMAL, 50 rows) is
 * refused with RATE_LIMIT (429) at the app's HTTP edge (`createEdgeAdmission`: the caller's session
 * is in the app's cache after the warm-up), before tRPC reads the request. The
 * users and their data are made through `serving`; a session is valid in both, as it lives in the
 * database. Each round sends the same number of history reads to each app, closed loop, interleaved,
 * and reads each app's own CPU time (`process_cpu_seconds_total` from its /metrics) before and after.
 *
 * Usage: pnpm bench:refusal-cost [-- --rounds 5 --calls 1000 --concurrency 8 --log-level warn --profile DIR --json FILE]
 *
 * `--profile DIR` starts the refusing app under `node --cpu-prof` and writes its profile to DIR when it
 * stops: after its warm-up it does nothing but refuse, so the profile is the refusal path (its figures
 * then include the profiler's cost).
 *
 * The machine is shared and noisy: every round is printed, and the ratio is taken within a round.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { TRPCClientError } from '@trpc/client';
import { countOption, textOption } from '../cli-options.js';
import { type AppProcess, startAppProcess } from '../loadtest/app-process.js';
import { metricValue } from '../loadtest/app-process-sampler.js';
import { createClient, createVirtualUsers, type VirtualUser } from '../loadtest/scenarios.js';
import { machineDescription } from '../machine.js';
import { outputPath } from '../output-path.js';
import type { RefusalCostData } from '../report/report-data.js';

const rounds = countOption('rounds', 5);
const callsPerRound = countOption('calls', 1000);
const concurrency = countOption('concurrency', 8);
const dosesPerUser = 50;
/**
 * The apps' LOG_LEVEL: at `warn` (the default here, as in the load test) refused requests are logged,
 * the first five of each kind a second in full and the rest counted.
 */
const logLevel = textOption('log-level') ?? 'warn';
const jsonPath = textOption('json');
const profileDir = textOption('profile');

/** The middle value (the upper middle of an even count). */
const median = (values: readonly number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const metricsToken = randomBytes(18).toString('hex');
const unlimited = Object.fromEntries(
  ['API', 'AUTH', 'HEAVY', 'RECORDING', 'UPLOAD', 'REPORTS'].map((policy) => [
    `RATE_LIMIT_${policy}_MAX`,
    '100000000',
  ]),
);

/** The app's own CPU time so far, in ms, read from its Prometheus endpoint. */
async function cpuMs(app: AppProcess): Promise<number> {
  const response = await fetch(`${app.url}/metrics`, {
    headers: { authorization: `Bearer ${metricsToken}` },
  });
  const seconds = metricValue(await response.text(), 'process_cpu_seconds_total');
  if (seconds === undefined) throw new Error('no process_cpu_seconds_total in /metrics');
  return seconds * 1000;
}

interface Outcome {
  ok: number;
  refused: number;
  other: string[];
}

/** `calls` history reads by `users`, `concurrency` at a time; counts served and rate-limited ones. */
async function historyReads(users: VirtualUser[], calls: number, oneEach = false): Promise<Outcome> {
  const outcome: Outcome = { ok: 0, refused: 0, other: [] };
  let next = 0;
  const worker = async () => {
    while (next < calls) {
      const user = users[next++ % users.length]!;
      try {
        await user.client.administrations.history.query({ animalId: user.animalId, limit: 50 });
        outcome.ok++;
      } catch (error) {
        const data =
          error instanceof TRPCClientError ? (error.data as { httpStatus?: number } | undefined) : undefined;
        if (data?.httpStatus === 429) outcome.refused++;
        else outcome.other.push(String(error));
      }
    }
  };
  // One each: every user calls once, all at once (to spend their one allowed call of the minute).
  await Promise.all(Array.from({ length: oneEach ? users.length : concurrency }, worker));
  return outcome;
}

/** The same users with clients of another app process (sessions live in the database: valid in both). */
function usersAt(baseUrl: string, users: VirtualUser[]): VirtualUser[] {
  return users.map((user) => ({ ...user, client: createClient(baseUrl, user.headers) }));
}

async function main(): Promise<void> {
  let server: TestPostgres | undefined;
  const apps: AppProcess[] = [];
  try {
    server = await startTestPostgres({ appRoleConnectionLimit: 8 });
    const common = {
      DATABASE_URL: server.appUrl,
      DB_DRIVER: 'postgres',
      METRICS_TOKEN: metricsToken,
      TRUST_PROXY: '127.0.0.1',
      SEED_DEMO: 'false',
      LOAD_SHEDDING: 'off',
      LOG_LEVEL: logLevel,
      // Two processes share the role's 8 connections: 4 each.
      QUEUE_MAX_CONNECTIONS: '4',
    };
    const serving = await startAppProcess({ ...common, ...unlimited });
    apps.push(serving);
    const refusing = await startAppProcess({ ...common, ...unlimited, RATE_LIMIT_API_MAX: '1' }, profileDir);
    apps.push(refusing);

    console.error(`Creating ${concurrency} users with ${dosesPerUser} doses each...`);
    const users = await createVirtualUsers(serving.url, concurrency, { doses: dosesPerUser });
    const refusingUsers = usersAt(refusing.url, users);
    // Each user's one allowed `api` call of the minute on `refusing`: every later read is refused.
    const warmUp = await historyReads(refusingUsers, refusingUsers.length);
    if (warmUp.ok !== refusingUsers.length) throw new Error(`warm-up: ${JSON.stringify(warmUp)}`);
    // Warm both processes up (JIT, caches) before measuring: with 200 calls each, a refusal still
    // cost 2.6 times as much in the first round as in the fifth (591 against 225 µs).
    await historyReads(users, 2000);
    await historyReads(refusingUsers, 2000);

    const machine = machineDescription();
    console.log(
      `\nCPU of a refused call vs a served history read, over HTTP (${machine}; shared and noisy: every round shown)`,
    );
    console.log(
      `${callsPerRound} calls per app per round, ${concurrency} at a time, closed loop, apps interleaved; LOG_LEVEL=${logLevel}${profileDir ? '; the refusing app under --cpu-prof' : ''}.\n`,
    );
    console.log('round | served: CPU µs/call (ok) | refused: CPU µs/call (429) | refused / served');
    const measured: RefusalCostData['rounds'] = [];
    for (let round = 1; round <= rounds; round++) {
      const measure = async (app: AppProcess, clients: VirtualUser[]) => {
        // The limit is 1 a minute per user (sliding): each user spends its call of the minute now, so
        // none is served during the measurement, however long the run has been going.
        if (app === refusing) await historyReads(clients, clients.length, true);
        const before = await cpuMs(app);
        const outcome = await historyReads(clients, callsPerRound);
        const after = await cpuMs(app);
        if (outcome.other.length > 0)
          throw new Error(`unexpected failures: ${outcome.other.slice(0, 3).join('; ')}`);
        return { perCallUs: ((after - before) * 1000) / callsPerRound, outcome };
      };
      // Alternate which app goes first, so a drift of the machine's load does not favour one.
      const [served, refused] =
        round % 2 === 1
          ? [await measure(serving, users), await measure(refusing, refusingUsers)]
          : await (async () => {
              const r = await measure(refusing, refusingUsers);
              return [await measure(serving, users), r] as const;
            })();
      if (served.outcome.ok !== callsPerRound || refused.outcome.refused !== callsPerRound)
        throw new Error(`round ${round}: served ${served.outcome.ok}, refused ${refused.outcome.refused}`);
      const ratio = refused.perCallUs / served.perCallUs;
      measured.push({ servedCpuUs: served.perCallUs, refusedCpuUs: refused.perCallUs, ratio });
      console.log(
        `${String(round).padStart(5)} | ${served.perCallUs.toFixed(0).padStart(9)} (${served.outcome.ok}) | ${refused.perCallUs.toFixed(0).padStart(10)} (${refused.outcome.refused}) | ${ratio.toFixed(2)}`,
      );
    }
    const medianRatio = median(measured.map((round) => round.ratio));
    console.log(`\nmedian refused / served: ${medianRatio.toFixed(2)} (target <= 0.2)`);
    if (jsonPath) {
      const data: RefusalCostData = {
        command: `pnpm bench:refusal-cost -- --rounds ${rounds} --calls ${callsPerRound} --concurrency ${concurrency} --log-level ${logLevel}`,
        callsPerRound,
        concurrency,
        logLevel,
        rounds: measured,
        medianRatio,
      };
      writeFileSync(outputPath(jsonPath), `${JSON.stringify(data, null, 2)}\n`);
    }
  } finally {
    for (const app of apps) await app.stop();
    await server?.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
