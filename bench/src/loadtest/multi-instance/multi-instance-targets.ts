import type { PhaseSummary } from './phase-summary.js';
import type { KillResult, MultiInstanceReport } from './run-multi-instance.js';

/** One target of issue 14 with what the run measured. */
export interface TargetVerdict {
  target: string;
  measured: string;
  met: boolean;
}

const n = (value: number | null, digits = 2) => (value === null ? 'n/a' : value.toFixed(digits));
const ms = (value: number | null) => (value === null ? 'n/a' : `${Math.round(value)} ms`);

/** The phases of one mode with `loaded` instances, in round order. */
function phasesOf(report: MultiInstanceReport, mode: PhaseSummary['mode'], loaded: number): PhaseSummary[] {
  const found = report.phases
    .filter((p) => p.mode === mode && p.loadedInstances === loaded)
    .sort((a, b) => a.round - b.round);
  if (found.length === 0)
    throw new Error(`the report has no ${mode} phase with ${loaded} loaded instance(s)`);
  return found;
}

/**
 * The middle value; of an even count, the worse of the two middles (`better`: which way is good), so
 * an even number of rounds never flatters. Null stands for "never" or "not measured" and counts as
 * the worst value.
 */
export function median(values: readonly (number | null)[], better: 'higher' | 'lower'): number | null {
  if (values.length === 0) return null;
  const worst = better === 'higher' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  const key = (value: number | null) => value ?? worst;
  // Sorted best first: the worse middle of an even count is then the later one.
  const sorted = [...values].sort((a, b) => (better === 'higher' ? key(b) - key(a) : key(a) - key(b)));
  return sorted[Math.floor(sorted.length / 2)] ?? null;
}

/** Ratio of the `many` phase to the `one` phase of the same round, per round. */
function ratiosByRound(
  one: readonly PhaseSummary[],
  many: readonly PhaseSummary[],
  of: (phase: PhaseSummary) => number | null,
): (number | null)[] {
  return many.map((m) => {
    const yardstick = one.find((o) => o.round === m.round);
    const a = of(m);
    const b = yardstick === undefined ? null : of(yardstick);
    return a === null || b === null || b === 0 ? null : a / b;
  });
}

const sum = (phases: readonly PhaseSummary[], of: (phase: PhaseSummary) => number) =>
  phases.reduce((total, phase) => total + of(phase), 0);

/** `median x (rounds: a, b, c)`. */
function roundsText(
  values: readonly (number | null)[],
  better: 'higher' | 'lower',
  format: (value: number | null) => string,
): string {
  return `median ${format(median(values, better))} (rounds: ${values.map(format).join(', ')})`;
}

/**
 * The issue's "done when" targets. Counts that must be zero (too-many-connections, breaker openings,
 * read-only) are summed over every round, the peak is the highest of any round; ratios and the
 * recovery after a kill are judged on their median round, every round listed.
 */
export function judgeTargets(report: MultiInstanceReport): TargetVerdict[] {
  const k = report.instances;
  const localOne = phasesOf(report, 'local', 1);
  const localMany = phasesOf(report, 'local', k);
  const sharedOne = phasesOf(report, 'shared', 1);
  const sharedMany = phasesOf(report, 'shared', k);
  const sharedRatios = ratiosByRound(sharedOne, sharedMany, (p) => p.okPerSecond);
  const localRatios = ratiosByRound(localOne, localMany, (p) => p.okPerSecond);
  const highRatios = ratiosByRound(sharedOne, sharedMany, (p) => p.highP99Ms);
  const sharedRatio = median(sharedRatios, 'higher');
  const localRatio = median(localRatios, 'higher');
  const highRatio = median(highRatios, 'lower');
  const recoveries = report.kills.map((kill) => kill.recoveryMs);
  const recovery = median(recoveries, 'lower');
  // Reports before schema 2's slotsBackMs have none.
  const slotsBack = report.kills.flatMap((kill) =>
    kill.slotsBackMs === undefined ? [] : [kill.slotsBackMs],
  );
  const leaseMs = report.kills[0]?.leaseMs ?? 0;
  // Reports before the after-lease rate was kept are judged on the sliding-second recovery alone.
  const afterLeaseRatios = report.kills.every((kill) => kill.afterLeasePerSecond !== undefined)
    ? report.kills.map((kill) =>
        kill.afterLeasePerSecond == null || kill.beforePerSecond === 0
          ? null
          : kill.afterLeasePerSecond / kill.beforePerSecond,
      )
    : undefined;
  const afterLeaseRatio = afterLeaseRatios === undefined ? null : median(afterLeaseRatios, 'higher');
  // Reports before slotsBackMs was kept say nothing of it.
  const slotsBackMedian = slotsBack.length > 0 ? median(slotsBack, 'lower') : undefined;
  const slotsBackInTime =
    slotsBackMedian === undefined || (slotsBackMedian !== null && slotsBackMedian <= leaseMs);
  const peaks = sharedMany.map((p) => p.peakBackends);
  const peak = peaks.some((p) => p === null) ? null : Math.max(...(peaks as number[]));
  const outageFailures = Object.values(report.outage.failuresDuringOutage).reduce((a, b) => a + b, 0);
  const tooMany = sum(sharedMany, (p) => p.tooManyConnections);
  const sharedBreaker = sum(sharedMany, (p) => p.breakerOpenings);
  const localBreaker = sum(localMany, (p) => p.breakerOpenings);
  const localReadOnly = sum(localMany, (p) => p.readOnly);
  const { rateLimit } = report;
  const every = report.rounds > 1 ? ` (all ${report.rounds} rounds)` : '';
  return [
    {
      target: `with Redis, ${k} × ${report.clientsPerInstance} clients: 0 client-visible too-many-connections`,
      measured: `${tooMany}${every}`,
      met: tooMany === 0,
    },
    {
      target: 'with Redis: 0 breaker openings',
      measured: `${sharedBreaker}${every}`,
      met: sharedBreaker === 0,
    },
    {
      target: `with Redis: peak backends ≤ ${report.connectionLimit}`,
      measured: `${peak ?? 'n/a'}${every}`,
      met: peak !== null && peak <= report.connectionLimit,
    },
    {
      target: 'with Redis: throughput ≥ 0.9 × one instance with the same clients',
      measured: `${roundsText(sharedRatios, 'higher', (r) => `${n(r)}×`)}; ok/s ${sharedMany.map((p, i) => `${n(p.okPerSecond, 1)} vs ${n(sharedOne[i]?.okPerSecond ?? null, 1)}`).join(', ')}`,
      met: sharedRatio !== null && sharedRatio >= 0.9,
    },
    {
      target: "with Redis: HIGH p99 ≤ 1.5 × one instance's",
      measured: `${roundsText(highRatios, 'lower', (r) => `${n(r)}×`)}; ${sharedMany.map((p, i) => `${ms(p.highP99Ms)} vs ${ms(sharedOne[i]?.highP99Ms ?? null)}`).join(', ')}`,
      met: highRatio !== null && highRatio <= 1.5,
    },
    {
      target: 'without Redis: 0 breaker openings, 0 read-only',
      measured: `${localBreaker} breaker, ${localReadOnly} read-only${every}`,
      met: localBreaker === 0 && localReadOnly === 0,
    },
    {
      target: 'without Redis: throughput ≥ 0.7 × one instance with the same clients',
      measured: `${roundsText(localRatios, 'higher', (r) => `${n(r)}×`)}; ok/s ${localMany.map((p, i) => `${n(p.okPerSecond, 1)} vs ${n(localOne[i]?.okPerSecond ?? null, 1)}`).join(', ')}`,
      met: localRatio !== null && localRatio >= 0.7,
    },
    {
      target: `one of ${k} SIGKILLed: the others back to full throughput within the lease (${leaseMs / 1000} s)`,
      ...(afterLeaseRatios === undefined
        ? {
            measured: `${slidingRecoveryText(report, slotsBack)}${unkilledText(report.kills)}${slowKills(report.kills, leaseMs)}`,
            met: recovery !== null && recovery <= leaseMs,
          }
        : {
            measured: `from the lease's end to the phase's end the survivors answered ${roundsText(afterLeaseRatios, 'higher', (r) => `${n(r)}×`)} the rate of every instance before the kill (${report.kills.map((kill) => `${n(kill.afterLeasePerSecond ?? null, 1)} vs ${n(kill.beforePerSecond, 1)} ok/s`).join(', ')}); ${slidingRecoveryText(report, slotsBack)}${unkilledText(report.kills)}${slowKills(report.kills, leaseMs)}`,
            met: afterLeaseRatio !== null && afterLeaseRatio >= 0.9 && slotsBackInTime,
          }),
    },
    {
      target: 'Redis stopped 10 s: no client error caused by it; health degraded; shared again after',
      measured: `${outageFailures} failures started during it (${describe(report.outage.failuresDuringOutage)}); ${report.outage.degradedInstances}/${k} instances answered 206; shared again ${ms(report.outage.backToSharedMs)} after Redis returned`,
      met:
        outageFailures === 0 &&
        report.outage.degradedInstances === k &&
        report.outage.backToSharedMs !== null,
    },
    {
      target: `rate limit ${rateLimit.limit}/min, one user over ${k} instances: admits ${rateLimit.limit} ± 1`,
      measured: `${rateLimit.shared} of ${rateLimit.sent} (without Redis: ${rateLimit.local})`,
      met: Math.abs(rateLimit.shared - rateLimit.limit) <= 1,
    },
  ];
}

export function describe(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort(([, a], [, b]) => b - a);
  return entries.length === 0 ? 'none' : entries.map(([key, count]) => `${key} ×${count}`).join(', ');
}

/** The report as text for the terminal: one line per phase, then the targets. */
export function formatMultiInstance(report: MultiInstanceReport): string {
  const lines = [
    `Multi-instance load test (${report.command}): sample-app processes on one PostgreSQL, app role CONNECTION LIMIT ${report.connectionLimit}, closed-loop clients recording doses (HIGH) and reading histories (NORMAL).`,
    '',
    '| set-up | Redis | ok | ok/s | failed | HIGH p99 | NORMAL p99 | peak backends | breaker | read-only | lowest limit |',
    '|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|',
  ];
  const round = (p: PhaseSummary) => (report.rounds > 1 ? `round ${p.round}: ` : '');
  const row = (p: PhaseSummary) =>
    `| ${round(p)}${p.loadedInstances === 1 ? `1 instance × ${p.clientsPerInstance} clients (${report.instances - 1} idle beside it)` : `${p.name}: ${p.loadedInstances} × ${p.clientsPerInstance} clients`}, ${p.durationMs / 1000} s | ${p.mode === 'shared' ? 'yes' : 'no'} | ${p.ok} | ${n(p.okPerSecond, 1)} | ${p.failed} (${describe(p.failures)}) | ${ms(p.highP99Ms)} | ${ms(p.normalP99Ms)} | ${p.peakBackends ?? 'n/a'} | ${p.breakerOpenings} | ${p.readOnly} | ${p.lowestLimit ?? 'n/a'} |`;
  const byMode = (mode: PhaseSummary['mode']) => report.phases.filter((p) => p.mode === mode);
  for (const p of [...byMode('local'), ...byMode('shared'), report.outage.phase]) lines.push(row(p));
  for (const kill of report.kills) lines.push(row(kill.phase));
  lines.push('', '| target | measured | verdict |', '|---|---|---|');
  for (const verdict of judgeTargets(report))
    lines.push(`| ${verdict.target} | ${verdict.measured} | ${verdict.met ? '**met**' : '**missed**'} |`);
  return lines.join('\n');
}

/** The strict measure: from the kill until every sliding second stays ≥ 0.9 × before; and when the slots were back. */
function slidingRecoveryText(report: MultiInstanceReport, slotsBack: readonly (number | null)[]): string {
  const recoveries = report.kills.map((kill) => kill.recoveryMs);
  return `${roundsText(recoveries, 'lower', (r) => (r === null ? 'never' : ms(r)))} until every second after is ≥ 0.9 × the rate before the kill (${report.kills.map((kill) => `${n(kill.beforePerSecond, 1)} ok/s`).join(', ')}; at the end ${report.kills.map((kill) => `${n(kill.afterPerSecond, 1)}`).join(', ')})${slotsBack.length > 0 ? `; the survivors held all ${report.connectionLimit} slots again after ${roundsText(slotsBack, 'lower', (r) => (r === null ? 'never' : ms(r)))}` : ''}`;
}

/**
 * The control of each round (the same phase with nobody killed, measured the same way from 5 s in),
 * when the report has it: a control that also takes long shows dips of the machine, not of the kill.
 */
function unkilledText(kills: readonly KillResult[]): string {
  const controls = kills.map((kill) => kill.withoutKill).filter((c) => c !== undefined);
  if (controls.length === 0) return '';
  const rounds = controls
    .map(
      (c) =>
        `${c.recoveryMs === null ? 'never' : ms(c.recoveryMs)} (${n(c.beforePerSecond, 1)} ok/s before${c.afterLeasePerSecond === undefined ? '' : `, ${n(c.afterLeasePerSecond, 1)} from 10 s on`})`,
    )
    .join(', ');
  return `; the same phase with nobody killed, measured the same way from 5 s in: ${rounds}`;
}

/**
 * For each round whose survivors took longer than the lease to come back (or never did), what they
 * answered in each second from the kill on, when the report has it: which seconds fell short.
 */
function slowKills(kills: readonly KillResult[], leaseMs: number): string {
  const slow = kills
    .map((kill, index) => ({ kill, round: index + 1 }))
    .filter(({ kill }) => (kill.recoveryMs === null || kill.recoveryMs > leaseMs) && kill.survivorsPerSecond);
  return slow
    .map(
      ({ kill, round }) =>
        `; round ${round}, the survivors' ok per second from the kill on (0.9 × before: ${(0.9 * kill.beforePerSecond).toFixed(1)}): ${kill.survivorsPerSecond!.join(', ')}`,
    )
    .join('');
}
