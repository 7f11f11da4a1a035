import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createSafeguards, Priority, type Safeguards } from '@db-safeguards/core';
import type postgres from 'postgres';
import {
  type ArrivalClass,
  closedLoop,
  type OpenLoopResult,
  openLoop,
  unloadedLatency,
  type WorkloadResult,
} from './workloads.js';

export type Query = (sql: postgres.Sql) => Promise<unknown>;

/**
 * The shape of every case: the app role's connection limit (what each pool of the budget's size
 * opens), the callers of the closed loops, and the naive pool that ignores the limit. The report
 * quotes these from the run's data.
 */
export const caseShape = { connections: 8, callers: 64, naivePoolSize: 20 } as const;
const { connections, callers, naivePoolSize } = caseShape;

/** Opens postgres.js pools on the app role's URL. */
export type OpenPool = (max: number) => postgres.Sql;

/**
 * Runs `body` with fresh pools, opened (all their connections) before and closed after: every case
 * starts with the role's 8 connections free, whatever the case before it did.
 */
async function withPools<T>(
  open: OpenPool,
  sizes: number[],
  body: (...pools: postgres.Sql[]) => Promise<T>,
): Promise<T> {
  const pools = sizes.map((size) => open(size));
  try {
    // Connect up to the role's limit first, so no case pays for connecting (the naive pool of 20 gets its 53300s here and later).
    await Promise.allSettled(
      pools.flatMap((pool, i) =>
        Array.from({ length: Math.min(sizes[i]!, connections) }, () => pool`select 1`),
      ),
    );
    return await body(...pools);
  } finally {
    await Promise.all(pools.map((pool) => pool.end({ timeout: 1 })));
  }
}

/** The closed-loop cases, each its median round. */
export interface ThroughputCases {
  dedicated: WorkloadResult;
  oneAtATime: WorkloadResult;
  poolOnly: WorkloadResult;
  safeguards: WorkloadResult;
  safeguardsNoReserve: WorkloadResult;
  naive: WorkloadResult;
  /** How many interleaved rounds each case ran. */
  rounds: number;
  /** Failures by classified type summed over every round, not only the median one shown. */
  errorsByTypeAllRounds: Record<CaseName, Record<string, number>>;
  /** The failures classified CONNECTION, by reason, summed over every round. */
  connectionReasonsAllRounds: Record<CaseName, Record<string, number>>;
}

const readOnly = { operationType: 'read' } as const;

type CaseName = 'dedicated' | 'oneAtATime' | 'poolOnly' | 'safeguards' | 'safeguardsNoReserve' | 'naive';

/** Adds `from`'s counts into `into`. */
export function addCounts(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [key, count] of Object.entries(from)) into[key] = (into[key] ?? 0) + count;
}

/** How each closed-loop case drives the database for `durationMs`, on pools of its own. */
function throughputCaseRunners(
  open: OpenPool,
  query: Query,
  durationMs: number,
): Record<CaseName, () => Promise<WorkloadResult>> {
  const guardedRun = (options: Parameters<typeof createSafeguards>[0]) =>
    withPools(open, [connections], async (pool) => {
      const guarded = createSafeguards(options);
      const result = await closedLoop(callers, durationMs, () => guarded.run(() => query(pool!), readOnly));
      await guarded.close();
      return result;
    });
  return {
    dedicated: () =>
      withPools(open, Array(connections).fill(1), (...dedicated) => {
        let next = 0;
        return closedLoop(callers, durationMs, () => query(dedicated[next++ % connections]!));
      }),
    oneAtATime: () =>
      withPools(open, [connections], (pool) => closedLoop(connections, durationMs, () => query(pool!))),
    poolOnly: () =>
      withPools(open, [connections], (pool) => closedLoop(callers, durationMs, () => query(pool!))),
    safeguards: () => guardedRun(undefined),
    safeguardsNoReserve: () => guardedRun({ queue: { reservedForCritical: 0 } }),
    naive: () =>
      withPools(open, [naivePoolSize], (pool) => closedLoop(callers, durationMs, () => query(pool!))),
  };
}

/**
 * Closed-loop throughput with 64 callers: 8 dedicated connections (case 1), each kept full
 * by 8 callers whose queries postgres.js pipelines, then postgres.js's pool of 8 alone, db-safeguards
 * (default, and without the CRITICAL reserve) over a pool of 8, and a naive pool of 20. And 8 callers
 * on 8 connections one query at a time, without pipelining (case 1b): one of the three unguarded
 * cases the ceiling is the best of.
 *
 * Every case runs `rounds` times, interleaved (each round runs all cases, in a rotated order), and
 * reports its median round: on a shared 2-core machine one 5 s run can be 15 % off the next, and
 * interleaving spreads any drift over every case instead of loading it onto whichever ran last.
 */
export async function throughputCases(
  open: OpenPool,
  query: Query,
  durationMs: number,
  rounds = 3,
): Promise<ThroughputCases> {
  // Warm up (plans, buffers, the JIT) so the first case measured does not pay for it.
  await withPools(open, [connections], (pool) =>
    closedLoop(callers, Math.min(2_000, durationMs), () => query(pool!)),
  );
  const runners = throughputCaseRunners(open, query, durationMs);
  const names = Object.keys(runners) as CaseName[];
  const results = new Map<CaseName, WorkloadResult[]>(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length]!;
      results.get(name)!.push(await runners[name]());
    }
  }
  const median = (runs: WorkloadResult[]) =>
    [...runs].sort((a, b) => a.throughput - b.throughput)[Math.floor(runs.length / 2)]!;
  const pick = (name: CaseName) => median(results.get(name)!);
  const allRounds = (field: 'errorsByType' | 'connectionReasons') =>
    Object.fromEntries(
      names.map((name) => {
        const total: Record<string, number> = {};
        for (const run of results.get(name)!) addCounts(total, run[field]);
        return [name, total];
      }),
    ) as Record<CaseName, Record<string, number>>;
  return {
    rounds,
    errorsByTypeAllRounds: allRounds('errorsByType'),
    connectionReasonsAllRounds: allRounds('connectionReasons'),
    dedicated: pick('dedicated'),
    oneAtATime: pick('oneAtATime'),
    poolOnly: pick('poolOnly'),
    safeguards: pick('safeguards'),
    safeguardsNoReserve: pick('safeguardsNoReserve'),
    naive: pick('naive'),
  };
}

/**
 * The ceiling a safeguarded run is measured against: the best throughput that any way of driving the
 * role's 8 connections without safeguards reached in the same run (dedicated pipelined connections,
 * one query per connection at a time, or postgres.js's own pool of 8). Which one wins depends on the
 * query and the machine, so the report does not pick one in advance.
 */
export function ceilingOf(cases: ThroughputCases): { throughput: number; label: '1' | '1b' | '4' } {
  const candidates = [
    { throughput: cases.dedicated.throughput, label: '1' as const },
    { throughput: cases.oneAtATime.throughput, label: '1b' as const },
    { throughput: cases.poolOnly.throughput, label: '4' as const },
  ];
  return candidates.reduce((best, candidate) => (candidate.throughput > best.throughput ? candidate : best));
}

/** The priority mix of the overload runs: the urgent work alone stays well below capacity. */
export const overloadMix = [
  { name: 'CRITICAL', share: 2, priority: Priority.CRITICAL },
  { name: 'HIGH', share: 8, priority: Priority.HIGH },
  { name: 'NORMAL', share: 30, priority: Priority.NORMAL },
  { name: 'LOW', share: 30, priority: Priority.LOW },
  { name: 'BATCH', share: 30, priority: Priority.BATCH },
] as const;

/** One of the repeated db-safeguards overload runs: urgent p99s and the benchmark process's own lag. */
export interface OverloadRun {
  p99Ms: { CRITICAL: number; HIGH: number };
  /** Failures by classified type over every priority of the run. */
  errorsByType: Record<string, number>;
  /** Its failures classified CONNECTION, by reason, over every priority. */
  connectionReasons: Record<string, number>;
  /** p99 event-loop delay of this process (load generator, safeguards and driver together) during the run. */
  eventLoopDelayP99Ms: number;
}

export interface OverloadCases {
  offeredPerSecond: number;
  unloaded: { CRITICAL: number; HIGH: number };
  /** The median of the repeated db-safeguards runs (by the worse of its two urgent p99 multiples). */
  safeguards: OpenLoopResult;
  /** Every db-safeguards run, in order: a 5 s p99 moves from run to run on a shared machine. */
  safeguardsRuns: OverloadRun[];
  poolOnly: OpenLoopResult;
  naive: OpenLoopResult;
}

/**
 * Open-loop overload at `factor` × the ceiling (the best of cases 1, 1b and 4), with the mix above: db-safeguards with its
 * priorities and shedding (`repeats` times; the median run is reported, every run is listed),
 * postgres.js with 8 connections and no safeguards, and the naive pool.
 */
export async function overloadCases(
  open: OpenPool,
  query: Query,
  ceilingPerSecond: number,
  factor: number,
  durationMs: number,
  repeats = 3,
): Promise<OverloadCases> {
  const unloaded = await withPools(open, [connections], async (pool) => {
    const idle = createSafeguards();
    const critical = await unloadedLatency(400, () =>
      // A read, like a health check: safe to retry, as the read cases are.
      idle.run(() => query(pool!), {
        operationType: 'critical',
        priority: Priority.CRITICAL,
        idempotent: true,
      }),
    );
    const high = await unloadedLatency(400, () =>
      idle.run(() => query(pool!), { ...readOnly, priority: Priority.HIGH }),
    );
    await idle.close();
    return { CRITICAL: critical.p99, HIGH: high.p99 };
  });
  const rate = Math.round(ceilingPerSecond * factor);
  const runs: Array<{ result: OpenLoopResult; run: OverloadRun }> = [];
  for (let i = 0; i < repeats; i++) {
    runs.push(
      await withPools(open, [connections], (pool) => guardedOverloadRun(pool!, query, rate, durationMs)),
    );
  }
  const worseMultiple = ({ run }: (typeof runs)[number]) =>
    Math.max(run.p99Ms.CRITICAL / unloaded.CRITICAL, run.p99Ms.HIGH / unloaded.HIGH);
  const median = [...runs].sort((a, b) => worseMultiple(a) - worseMultiple(b))[Math.floor(runs.length / 2)]!;
  const direct = (pool: postgres.Sql) =>
    openLoop(
      rate,
      durationMs,
      overloadMix.map(
        (cls): ArrivalClass => ({ name: cls.name, share: cls.share, operation: () => query(pool) }),
      ),
    );
  const poolOnly = await withPools(open, [connections], (pool) => direct(pool!));
  const naive = await withPools(open, [naivePoolSize], (pool) => direct(pool!));
  return {
    offeredPerSecond: rate,
    unloaded,
    safeguards: median.result,
    safeguardsRuns: runs.map(({ run }) => run),
    poolOnly,
    naive,
  };
}

/** One open-loop overload run through db-safeguards, with the event-loop delay it suffered. */
async function guardedOverloadRun(
  pool: postgres.Sql,
  query: Query,
  rate: number,
  durationMs: number,
): Promise<{ result: OpenLoopResult; run: OverloadRun }> {
  const guarded: Safeguards = createSafeguards();
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const result = await openLoop(
    rate,
    durationMs,
    overloadMix.map(
      (cls): ArrivalClass => ({
        name: cls.name,
        share: cls.share,
        operation: () =>
          guarded.run(() => query(pool), {
            operationType: cls.priority === Priority.CRITICAL ? 'critical' : 'read',
            priority: cls.priority,
            // Every class runs the same read: retryable alike ('critical' alone would not be).
            idempotent: true,
          }),
      }),
    ),
  );
  loopDelay.disable();
  await guarded.close();
  const errorsByType: Record<string, number> = {};
  const connectionReasons: Record<string, number> = {};
  for (const cls of Object.values(result.byClass)) {
    addCounts(errorsByType, cls.errorsByType);
    addCounts(connectionReasons, cls.connectionReasons);
  }
  return {
    result,
    run: {
      p99Ms: { CRITICAL: result.byClass.CRITICAL!.latencyMs.p99, HIGH: result.byClass.HIGH!.latencyMs.p99 },
      errorsByType,
      connectionReasons,
      eventLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    },
  };
}
