import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { startTestRedis, type TestRedis } from '@db-safeguards/test-redis';
import { type AppProcess, startAppProcess, stopChild } from '../app-process.js';
import { describeFailure } from '../describe-failure.js';
import { withLeanHistoryReads } from '../lean-history-read.js';
import { createClient, createVirtualUsers, type VirtualUser } from '../scenarios.js';
import { unlimitedRateLimitsEnv } from '../unlimited-rate-limits.js';
import { type ClosedLoopOptions, type LoopClient, type LoopRecord, runClosedLoop } from './closed-loop.js';
import { type InstanceSample, sampleInstances } from './instance-sampler.js';
import { type PhaseSummary, recoveryAfterKill, slotsBackAfterKill, summarisePhase } from './phase-summary.js';

export interface MultiInstanceOptions {
  instances: number;
  clientsPerInstance: number;
  /** Length of each throughput phase. */
  durationMs: number;
  /** The app role's CONNECTION LIMIT, and each instance's budget and the shared capacity. */
  connectionLimit: number;
  /** Rate limit of the shared rate-limit check (`reports`, per user per minute). */
  rateLimit: number;
  /**
   * Times each comparison (one instance against all, with and without Redis) and the kill scenario
   * run. On a shared machine one run's ratio moves a lot; the targets are judged on the median round.
   */
  rounds: number;
  log: (line: string) => void;
  /**
   * A directory to write each kill round's raw data to (`kill-round-N.json`: every instance sample,
   * and per 250 ms each instance's answers and their median time), to see what a slow recovery was.
   */
  traceKillsDir?: string | undefined;
}

/** The kill scenario: one instance SIGKILLed mid-run; how soon the others took its share. */
export interface KillResult {
  phase: PhaseSummary;
  killAtMs: number;
  leaseMs: number;
  /** Requests answered per second by every instance in the 3 s before the kill. */
  beforePerSecond: number;
  /** From the kill until the survivors answered ≥ 0.9 × that over a sliding second; null if never. */
  recoveryMs: number | null;
  /** The survivors' rate over the last 3 s of the phase. */
  afterPerSecond: number;
  /** The survivors' rate from the lease's end after the kill to the end of the phase (absent in reports before it). */
  afterLeasePerSecond?: number | null;
  /** The survivors' answers in each whole second from the kill on (absent in reports before it). */
  survivorsPerSecond?: number[];
  /** From the kill until the survivors' effective limits added up to the capacity again; null if never. */
  slotsBackMs?: number | null;
  /** Failures at the survivors' clients during the phase. */
  survivorFailures: Record<string, number>;
  /**
   * The same phase run just before, on the same fleet, with nobody killed: the same measure taken
   * from 5 s in over every instance's clients. How often it misses says how much of a slow
   * "recovery" is the machine rather than the kill (absent in reports before it).
   */
  withoutKill?: {
    beforePerSecond: number;
    recoveryMs: number | null;
    afterLeasePerSecond: number | null;
    perSecond: number[];
  };
}

/** The Redis outage scenario: Redis stopped for a while mid-run. */
export interface OutageResult {
  phase: PhaseSummary;
  stoppedAtMs: number;
  restartedAtMs: number;
  /** Failures of requests started from the stop to 1 s after the restart, by kind. */
  failuresDuringOutage: Record<string, number>;
  /** Instances that answered /api/health with 206 (degraded) during the outage, of all. */
  degradedInstances: number;
  /** From the restart until every instance said `shared` again; null if not within the phase. */
  backToSharedMs: number | null;
  /** The effective limits the instances ran on during the outage (the fallback). */
  fallbackLimits: number[];
}

export interface RateLimitResult {
  limit: number;
  sent: number;
  /** Admitted with each instance counting alone (no Redis). */
  local: number;
  /** Admitted with the sliding-window store on Redis. */
  shared: number;
  /** Requests that failed for another reason than the rate limit, by kind. */
  failed: Record<string, number>;
}

export interface MultiInstanceReport {
  schemaVersion: 2;
  generatedAt: string;
  command: string;
  instances: number;
  clientsPerInstance: number;
  durationMs: number;
  connectionLimit: number;
  rounds: number;
  /** Every throughput phase of every round (`round` 1, 2, ...), one instance then all, per mode. */
  phases: PhaseSummary[];
  /** The kill scenario, once per round. */
  kills: KillResult[];
  outage: OutageResult;
  rateLimit: RateLimitResult;
}

/** Rate limits far above the offered load, except `reports`, which the rate-limit check uses. */
function limitsEnv(rateLimit: number): Record<string, string> {
  return { ...unlimitedRateLimitsEnv, RATE_LIMIT_REPORTS_MAX: String(rateLimit) };
}

interface Fleet {
  apps: AppProcess[];
  dead: Set<number>;
  /**
   * Sends a closed-loop client's call: history reads by the lean reader of the client's instance
   * (see lean-history-read.ts: the generator shares the instances' 2 cores), recordings by the tRPC
   * client.
   */
  call: NonNullable<ClosedLoopOptions['call']>;
}

async function startFleet(count: number, env: Record<string, string>): Promise<Fleet> {
  const apps: AppProcess[] = [];
  // One after another: each runs the migrations (serialised by an advisory lock anyway).
  for (let i = 0; i < count; i++) apps.push(await startAppProcess(env));
  // By the instance's current address: a restarted instance (the kill scenario) listens on a new port.
  const senders = new Map<string, ReturnType<typeof withLeanHistoryReads>>();
  const senderFor = (url: string) => {
    let sender = senders.get(url);
    if (sender === undefined) {
      sender = withLeanHistoryReads(url);
      senders.set(url, sender);
    }
    return sender;
  };
  return {
    apps,
    dead: new Set(),
    call: (scenario, caller, instance) => senderFor(apps[instance]!.url)(scenario, caller),
  };
}

async function stopFleet(fleet: Fleet): Promise<void> {
  await Promise.all(
    fleet.apps.map((app, i) => (fleet.dead.has(i) ? undefined : stopChild(app.child, 15_000))),
  );
}

function clientsFor(
  fleet: Fleet,
  users: readonly VirtualUser[],
  loaded: number,
  perInstance: number,
): LoopClient[] {
  const clients: LoopClient[] = [];
  for (let i = 0; i < loaded; i++) {
    for (let c = 0; c < perInstance; c++) {
      const user = users[(i * perInstance + c) % users.length]!;
      clients.push({ instance: i, user, client: createClient(fleet.apps[i]!.url, user.headers) });
    }
  }
  return clients;
}

async function waitForMode(fleet: Fleet, token: string, mode: string, timeoutMs: number): Promise<boolean> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    const sampler = sampleInstances(
      fleet.apps.map((a) => a.url),
      token,
      { everyMs: 0, isLive: (i) => !fleet.dead.has(i) },
    );
    await sleep(50);
    const samples = await sampler.stop();
    const live = fleet.apps.length - fleet.dead.size;
    const latest = new Map(samples.map((s) => [s.instance, s.sharedMode]));
    if (latest.size === live && [...latest.values()].every((m) => m === mode)) return true;
    await sleep(200);
  }
  return false;
}

interface PhaseRun {
  records: LoopRecord[];
  samples: InstanceSample[];
  peakBackends: number | null;
}

/**
 * Every instance serves its clients' calls for a moment before anything is measured: a process's
 * first requests run cold (code not yet compiled, sessions not yet cached), and without this the
 * one-instance yardstick (whose instance created the users) would be warm while three of the four
 * instances of the next phase were not. The fleet then settles (see `settle`).
 */
async function warmUp(
  server: TestPostgres,
  fleet: Fleet,
  users: readonly VirtualUser[],
  instances: number,
  perInstance: number,
  log: (line: string) => void,
): Promise<void> {
  log("  warming every instance up (1 s of its clients' calls each, one at a time, not measured)...");
  // One at a time, each once the one before has closed its connections: together they would meet
  // the role's limit, and a "full" answer lowers an instance's own limit for a while, which the
  // phase after would inherit.
  const all = clientsFor(fleet, users, instances, perInstance);
  for (let i = 0; i < instances; i++) {
    await runClosedLoop({
      clients: all.filter((client) => client.instance === i),
      durationMs: 1000,
      call: fleet.call,
    });
    await settle(server, log);
  }
}

/**
 * Lets the fleet go idle between two phases, so each starts as the issue describes it (its instances
 * starting work together), not with the previous phase's busiest instance still holding connections
 * and slots: every app connection closed (the pools' idle timeout), then 2.5 s more, past the shared
 * budget's release delay (1.5 s) and a lease renewal (0.5 s), so no slot is still counted as held.
 * How fast slots move from a busy instance to new ones is measured by the kill scenario instead.
 */
async function settle(server: TestPostgres, log: (line: string) => void): Promise<void> {
  await server
    .waitForAppConnections(0, { timeoutMs: 15_000 })
    .catch(() => log('  (some app connections were still open after 15 s; going on)'));
  await sleep(2500);
}

/**
 * Runs closed-loop clients for `durationMs`, sampling every instance's metrics (and health, with
 * `health`) and the role's backends; `during(now)` runs alongside (a kill, a Redis outage).
 */
async function runPhase(
  server: TestPostgres,
  fleet: Fleet,
  token: string,
  clients: LoopClient[],
  durationMs: number,
  options: { health?: boolean; during?: (now: () => number) => Promise<void> } = {},
): Promise<PhaseRun> {
  const startedAt = performance.now();
  const backends = server.sampleAppConnections(10);
  const sampler = sampleInstances(
    fleet.apps.map((a) => a.url),
    token,
    { startedAt, health: options.health, isLive: (i) => !fleet.dead.has(i) },
  );
  const [records] = await Promise.all([
    runClosedLoop({
      clients,
      durationMs,
      startedAt,
      isStopped: (i) => fleet.dead.has(i),
      call: fleet.call,
    }),
    options.during?.(() => performance.now() - startedAt),
  ]);
  const samples = await sampler.stop();
  const peak = (await backends.stop()).peak;
  return { records, samples, peakBackends: peak };
}

/** One kill round's raw data, for `traceKillsDir`: samples as taken, answers per 250 ms and instance. */
function writeKillTrace(dir: string, round: number, killAtMs: number, run: PhaseRun): void {
  const bucketMs = 250;
  const buckets = new Map<string, number[]>();
  for (const r of run.records) {
    if (!r.ok) continue;
    const key = `${Math.floor(r.endedAtMs / bucketMs) * bucketMs}:${r.instance}`;
    const list = buckets.get(key) ?? [];
    list.push(r.endedAtMs - r.startedAtMs);
    buckets.set(key, list);
  }
  const answers = [...buckets]
    .map(([key, times]) => {
      const [atMs, instance] = key.split(':').map(Number);
      const sorted = times.sort((a, b) => a - b);
      return { atMs, instance, ok: times.length, medianMs: Math.round(sorted[sorted.length >> 1]!) };
    })
    .sort((a, b) => a.atMs! - b.atMs! || a.instance! - b.instance!);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, `kill-round-${round}.json`),
    `${JSON.stringify({ killAtMs, bucketMs, samples: run.samples, answers })}\n`,
  );
}

async function checkRateLimit(
  fleet: Fleet,
  user: VirtualUser,
  sent: number,
  log: (line: string) => void,
): Promise<{ admitted: number; failed: Record<string, number> }> {
  const clients = fleet.apps.map((app) => createClient(app.url, user.headers));
  // One call to each instance first (a history read, not charged to `reports`): an instance that has
  // not seen the user's token yet charges its first call to the caller's IP, before the token is
  // looked up (the sample app's flood protection), so a cold instance would admit one more.
  let admitted = 0;
  const failed: Record<string, number> = {};
  const countFailure = (error: unknown, what: string) => {
    const failure = describeFailure(error);
    const key = failure.reason ? `${failure.errorType}/${failure.reason}` : failure.errorType;
    if (failed[key] === undefined) log(`  rate-limit check: ${what} failed with ${key}`);
    failed[key] = (failed[key] ?? 0) + 1;
  };
  for (const [i, client] of clients.entries()) {
    await client.administrations.history
      .query({ animalId: user.animalId, limit: 1 })
      .catch((error: unknown) => countFailure(error, `the first read on instance ${i}`));
  }
  for (let i = 0; i < sent; i++) {
    try {
      await clients[i % clients.length]!.reports.adherence.query({ householdId: user.householdId, days: 7 });
      admitted++;
    } catch (error) {
      if (describeFailure(error).errorType === 'RATE_LIMIT') continue;
      countFailure(error, `request ${i} (instance ${i % clients.length})`);
    }
  }
  return { admitted, failed };
}

/**
 * Several sample-app processes on one PostgreSQL whose app role has CONNECTION LIMIT
 * `connectionLimit`, without Redis (each its own budget, adaptive) and with Redis (one shared
 * budget), against one instance carrying the same clients in the same run; then, with Redis, one
 * instance SIGKILLed mid-run, Redis stopped for 10 s mid-run, and one user's rate limit spread over
 * every instance.
 */
export async function runMultiInstance(options: MultiInstanceOptions): Promise<MultiInstanceReport> {
  const { instances, clientsPerInstance, durationMs, connectionLimit, rounds, log } = options;
  const total = instances * clientsPerInstance;
  const token = randomBytes(18).toString('hex');
  let server: TestPostgres | undefined;
  let redis: TestRedis | undefined;
  let fleet: Fleet | undefined;
  const phases: PhaseSummary[] = [];
  try {
    const [pg, rd] = await Promise.all([
      startTestPostgres({ appRoleConnectionLimit: connectionLimit }),
      startTestRedis({ externalUrl: false }),
    ]);
    server = pg;
    redis = rd;
    const base = {
      DATABASE_URL: pg.appUrl,
      METRICS_TOKEN: token,
      TRUST_PROXY: '127.0.0.1',
      SEED_DEMO: 'false',
      QUEUE_MAX_CONNECTIONS: String(connectionLimit),
      // What is measured is the connection budget across instances: the event-loop and memory
      // admission (LOAD_SHEDDING) would refuse calls on this shared 2-core machine for its own reasons.
      LOAD_SHEDDING: 'off',
      ...limitsEnv(options.rateLimit),
    };
    const summarise = (
      name: string,
      mode: PhaseSummary['mode'],
      round: number,
      loaded: number,
      per: number,
      run: PhaseRun,
      ms = durationMs,
    ) =>
      summarisePhase(
        { name, mode, round, loadedInstances: loaded, clientsPerInstance: per, durationMs: ms },
        run.records,
        run.samples,
        run.peakBackends,
      );

    /**
     * One round of a comparison: all the clients on one instance (the others idle beside it), then
     * spread over every instance, each phase starting from an idle fleet.
     */
    const compare = async (
      pg: TestPostgres,
      fleet: Fleet,
      users: readonly VirtualUser[],
      mode: PhaseSummary['mode'],
      round: number,
    ): Promise<PhaseSummary[]> => {
      const redisNote = mode === 'shared' ? ', with Redis' : '';
      const of = `round ${round} of ${rounds}`;
      log(
        `1 instance, ${total} clients (${instances - 1} idle beside it)${redisNote}, ${durationMs / 1000} s (${of})...`,
      );
      const one = summarise(
        'one instance',
        mode,
        round,
        1,
        total,
        await runPhase(pg, fleet, token, clientsFor(fleet, users, 1, total), durationMs),
      );
      await settle(pg, log);
      log(
        `${instances} instances × ${clientsPerInstance} clients${redisNote}, ${durationMs / 1000} s (${of})...`,
      );
      const many = summarise(
        `${instances} instances`,
        mode,
        round,
        instances,
        clientsPerInstance,
        await runPhase(pg, fleet, token, clientsFor(fleet, users, instances, clientsPerInstance), durationMs),
      );
      await settle(pg, log);
      return [one, many];
    };

    /**
     * The kill scenario: every instance loaded, `victim` SIGKILLed 5 s in, 15 s in all; before it, the
     * same phase with nobody killed, measured the same way (the machine's own dips).
     */
    const killOne = async (
      pg: TestPostgres,
      fleet: Fleet,
      users: readonly VirtualUser[],
      victim: number,
      round: number,
    ): Promise<KillResult> => {
      const killMs = 15_000;
      const markMs = 5000;
      // The shared budget's lease (the app's default): a dead instance's slots are back by then.
      const leaseMs = 5000;
      /** Every instance loaded for `killMs`; at `markMs`, `atMark` runs; resolves with the run and when that was. */
      const markedPhase = async (atMark: () => void) => {
        let markAtMs = 0;
        const phase = await runPhase(
          pg,
          fleet,
          token,
          clientsFor(fleet, users, instances, clientsPerInstance),
          killMs,
          {
            during: async (now) => {
              await sleep(markMs);
              markAtMs = now();
              atMark();
            },
          },
        );
        return { phase, markAtMs };
      };
      // The control first: the same phase, the same mark at 5 s, nobody killed (instance -1 is no one).
      const control = await markedPhase(() => {});
      const unkilled = recoveryAfterKill(
        control.phase.records,
        -1,
        control.markAtMs,
        killMs,
        0.9,
        3000,
        leaseMs,
      );
      await settle(pg, log);
      const { phase: run, markAtMs: killAtMs } = await markedPhase(() => {
        fleet.dead.add(victim);
        fleet.apps[victim]!.child.kill('SIGKILL');
      });
      // Nothing may fail before the kill: the rate before it is what recovery is judged against (a
      // client sending to a stale address once made that rate, and so the bar, lower).
      const early = run.records.filter((r) => !r.ok && r.endedAtMs < killAtMs);
      if (early.length > 0)
        throw new Error(
          `kill scenario, round ${round}: ${early.length} calls failed before the kill (first: instance ${early[0]!.instance}, ${early[0]!.errorType})`,
        );
      if (options.traceKillsDir) writeKillTrace(options.traceKillsDir, round, killAtMs, run);
      const survivorFailures: Record<string, number> = {};
      for (const r of run.records) {
        if (r.ok || r.instance === victim) continue;
        const key = r.reason ? `${r.errorType}/${r.reason}` : (r.errorType ?? 'UNKNOWN');
        survivorFailures[key] = (survivorFailures[key] ?? 0) + 1;
      }
      return {
        phase: summarise(
          'one of them SIGKILLed',
          'shared',
          round,
          instances,
          clientsPerInstance,
          run,
          killMs,
        ),
        killAtMs,
        leaseMs,
        ...recoveryAfterKill(run.records, victim, killAtMs, killMs, 0.9, 3000, leaseMs),
        slotsBackMs: slotsBackAfterKill(run.samples, victim, killAtMs, connectionLimit),
        survivorFailures,
        withoutKill: {
          beforePerSecond: unkilled.beforePerSecond,
          recoveryMs: unkilled.recoveryMs,
          afterLeasePerSecond: unkilled.afterLeasePerSecond,
          perSecond: unkilled.survivorsPerSecond,
        },
      };
    };

    // ---- Without Redis: each instance its own budget of `connectionLimit`, adaptive on 53300.
    log(`Starting ${instances} sample-app processes without Redis...`);
    fleet = await startFleet(instances, base);
    log(`Creating ${total} users...`);
    const users = await createVirtualUsers(fleet.apps[0]!.url, total);
    await warmUp(pg, fleet, users, instances, clientsPerInstance, log);
    for (let round = 1; round <= rounds; round++)
      phases.push(...(await compare(pg, fleet, users, 'local', round)));
    log('Rate limit, one user over every instance, no Redis...');
    const sent = options.rateLimit + 30;
    const local = await checkRateLimit(fleet, users[0]!, sent, log);
    await stopFleet(fleet);
    fleet = undefined;
    await pg.waitForAppConnections(0, { timeoutMs: 10_000 }).catch(() => undefined);

    // ---- With Redis: one budget of `connectionLimit` for all.
    log(`Starting ${instances} sample-app processes with REDIS_URL...`);
    const sharedEnv = { ...base, REDIS_URL: redis.url, REDIS_KEY_PREFIX: `${redis.keyPrefix}` };
    fleet = await startFleet(instances, sharedEnv);
    if (!(await waitForMode(fleet, token, 'shared', 15_000)))
      throw new Error('the instances never reached the shared mode');
    await warmUp(pg, fleet, users, instances, clientsPerInstance, log);
    for (let round = 1; round <= rounds; round++)
      phases.push(...(await compare(pg, fleet, users, 'shared', round)));
    log('Rate limit, one user over every instance, with Redis...');
    const shared = await checkRateLimit(fleet, users[0]!, sent, log);

    // Redis stopped for 10 s mid-run.
    log('Redis stopped for 10 s mid-run...');
    const outageMs = 25_000;
    let stoppedAtMs = 0;
    let restartedAtMs = 0;
    const running = fleet;
    const redisHandle = rd;
    const outageRun = await runPhase(
      server,
      running,
      token,
      clientsFor(running, users, instances, clientsPerInstance),
      outageMs,
      {
        health: true,
        during: async (now) => {
          await sleep(5000);
          stoppedAtMs = now();
          await redisHandle.stopServer();
          await sleep(10_000 - (now() - stoppedAtMs));
          await redisHandle.startServer();
          restartedAtMs = now();
        },
      },
    );
    const outagePhase = summarise(
      'Redis stopped 10 s',
      'shared',
      1,
      instances,
      clientsPerInstance,
      outageRun,
      outageMs,
    );
    const duringOutage: Record<string, number> = {};
    for (const r of outageRun.records) {
      if (r.ok || r.startedAtMs < stoppedAtMs || r.startedAtMs > restartedAtMs + 1000) continue;
      const key = r.reason ? `${r.errorType}/${r.reason}` : (r.errorType ?? 'UNKNOWN');
      duringOutage[key] = (duringOutage[key] ?? 0) + 1;
    }
    const inOutage = (s: InstanceSample) => s.atMs > stoppedAtMs && s.atMs < restartedAtMs;
    const degraded = new Set(
      outageRun.samples.filter((s) => inOutage(s) && s.healthStatus === 206).map((s) => s.instance),
    );
    const after = outageRun.samples.filter((s) => s.atMs > restartedAtMs);
    let backToSharedMs: number | null = null;
    for (const s of after) {
      const upTo = after.filter((x) => x.atMs <= s.atMs);
      const latest = new Map(upTo.map((x) => [x.instance, x.sharedMode]));
      if (latest.size === instances && [...latest.values()].every((m) => m === 'shared')) {
        backToSharedMs = s.atMs - restartedAtMs;
        break;
      }
    }
    const outage: OutageResult = {
      phase: outagePhase,
      stoppedAtMs,
      restartedAtMs,
      failuresDuringOutage: duringOutage,
      degradedInstances: degraded.size,
      backToSharedMs,
      fallbackLimits: [
        ...new Set(
          outageRun.samples
            .filter((s) => inOutage(s) && s.sharedMode === 'fallback')
            .map((s) => s.limit ?? -1),
        ),
      ].sort(),
    };
    // Wait for the shared mode again (Redis restarted empty learns for one lease).
    await waitForMode(fleet, token, 'shared', 15_000);

    // One instance SIGKILLed mid-run, once per round; between rounds it is started again.
    const kills: KillResult[] = [];
    const victim = instances - 1;
    for (let round = 1; round <= rounds; round++) {
      if (round > 1) {
        log('  starting the killed instance again...');
        running.apps[victim] = await startAppProcess(sharedEnv);
        running.dead.delete(victim);
        if (!(await waitForMode(running, token, 'shared', 15_000)))
          throw new Error('the restarted instance never reached the shared mode');
        await warmUp(server, running, users, instances, clientsPerInstance, log);
      }
      log(`One instance SIGKILLed mid-run (round ${round} of ${rounds})...`);
      kills.push(await killOne(server, running, users, victim, round));
    }
    await stopFleet(fleet);
    fleet = undefined;
    return {
      schemaVersion: 2,
      generatedAt: new Date().toISOString(),
      command: `pnpm loadtest -- --instances ${instances} --rounds ${rounds}`,
      instances,
      clientsPerInstance,
      durationMs,
      connectionLimit,
      rounds,
      phases,
      kills,
      outage,
      rateLimit: {
        limit: options.rateLimit,
        sent,
        local: local.admitted,
        shared: shared.admitted,
        failed: { ...local.failed, ...shared.failed },
      },
    };
  } finally {
    if (fleet) await stopFleet(fleet).catch(() => undefined);
    await redis?.stop();
    await server?.stop();
  }
}
