import type { PhaseSummary } from './phase-summary.js';
import type { MultiInstanceReport } from './run-multi-instance.js';

/** One target of issue 14 with what the run measured. */
export interface TargetVerdict {
  target: string;
  measured: string;
  met: boolean;
}

const n = (value: number | null, digits = 2) => (value === null ? 'n/a' : value.toFixed(digits));
const ms = (value: number | null) => (value === null ? 'n/a' : `${Math.round(value)} ms`);

function phase(report: MultiInstanceReport, mode: PhaseSummary['mode'], loaded: number): PhaseSummary {
  const found = report.phases.find((p) => p.mode === mode && p.loadedInstances === loaded);
  if (!found) throw new Error(`the report has no ${mode} phase with ${loaded} loaded instance(s)`);
  return found;
}

/** The issue's "done when" targets, judged on one run's figures. */
export function judgeTargets(report: MultiInstanceReport): TargetVerdict[] {
  const k = report.instances;
  const localOne = phase(report, 'local', 1);
  const localMany = phase(report, 'local', k);
  const sharedOne = phase(report, 'shared', 1);
  const sharedMany = phase(report, 'shared', k);
  const sharedRatio = sharedMany.okPerSecond / sharedOne.okPerSecond;
  const localRatio = localMany.okPerSecond / localOne.okPerSecond;
  const highRatio =
    sharedMany.highP99Ms === null || sharedOne.highP99Ms === null
      ? null
      : sharedMany.highP99Ms / sharedOne.highP99Ms;
  const outageFailures = Object.values(report.outage.failuresDuringOutage).reduce((a, b) => a + b, 0);
  const { rateLimit } = report;
  return [
    {
      target: `with Redis, ${k} × ${report.clientsPerInstance} clients: 0 client-visible too-many-connections`,
      measured: String(sharedMany.tooManyConnections),
      met: sharedMany.tooManyConnections === 0,
    },
    {
      target: 'with Redis: 0 breaker openings',
      measured: String(sharedMany.breakerOpenings),
      met: sharedMany.breakerOpenings === 0,
    },
    {
      target: `with Redis: peak backends ≤ ${report.connectionLimit}`,
      measured: String(sharedMany.peakBackends ?? 'n/a'),
      met: sharedMany.peakBackends !== null && sharedMany.peakBackends <= report.connectionLimit,
    },
    {
      target: 'with Redis: throughput ≥ 0.9 × one instance with the same clients',
      measured: `${n(sharedMany.okPerSecond, 1)} vs ${n(sharedOne.okPerSecond, 1)} ok/s: ${n(sharedRatio)}×`,
      met: sharedRatio >= 0.9,
    },
    {
      target: "with Redis: HIGH p99 ≤ 1.5 × one instance's",
      measured: `${ms(sharedMany.highP99Ms)} vs ${ms(sharedOne.highP99Ms)}: ${n(highRatio)}×`,
      met: highRatio !== null && highRatio <= 1.5,
    },
    {
      target: 'without Redis: 0 breaker openings, 0 read-only',
      measured: `${localMany.breakerOpenings} breaker, ${localMany.readOnly} read-only`,
      met: localMany.breakerOpenings === 0 && localMany.readOnly === 0,
    },
    {
      target: 'without Redis: throughput ≥ 0.7 × one instance with the same clients',
      measured: `${n(localMany.okPerSecond, 1)} vs ${n(localOne.okPerSecond, 1)} ok/s: ${n(localRatio)}×`,
      met: localRatio >= 0.7,
    },
    {
      target: `one of ${k} SIGKILLed: the others back to full throughput within the lease (${report.kill.leaseMs / 1000} s)`,
      measured: `${ms(report.kill.recoveryMs)} until every second after is ≥ 0.9 × the ${n(report.kill.beforePerSecond, 1)} ok/s before the kill`,
      met: report.kill.recoveryMs !== null && report.kill.recoveryMs <= report.kill.leaseMs,
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
  const row = (p: PhaseSummary) =>
    `| ${p.loadedInstances === 1 ? `1 instance × ${p.clientsPerInstance} clients (${report.instances - 1} idle beside it)` : `${p.name}: ${p.loadedInstances} × ${p.clientsPerInstance} clients`}, ${p.durationMs / 1000} s | ${p.mode === 'shared' ? 'yes' : 'no'} | ${p.ok} | ${n(p.okPerSecond, 1)} | ${p.failed} (${describe(p.failures)}) | ${ms(p.highP99Ms)} | ${ms(p.normalP99Ms)} | ${p.peakBackends ?? 'n/a'} | ${p.breakerOpenings} | ${p.readOnly} | ${p.lowestLimit ?? 'n/a'} |`;
  for (const p of [...report.phases, report.outage.phase, report.kill.phase]) lines.push(row(p));
  lines.push('', '| target | measured | verdict |', '|---|---|---|');
  for (const verdict of judgeTargets(report))
    lines.push(`| ${verdict.target} | ${verdict.measured} | ${verdict.met ? '**met**' : '**missed**'} |`);
  return lines.join('\n');
}
