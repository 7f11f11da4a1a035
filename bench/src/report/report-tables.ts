import { ceilingOf, type ThroughputCases } from './connection-cases.js';
import type { ReportData } from './report-data.js';
import type { OpenLoopResult, WorkloadResult } from './workloads.js';

/** A number as the report prints it: thousands separated, `digits` decimals. */
export const n = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
/** Milliseconds: one decimal below 100. */
export const ms = (value: number) => (value >= 100 ? n(value) : n(value, 1));

/** "1,485 too-many-connections, 3 shed", or "0". */
export function errorsOf(result: Pick<WorkloadResult, 'errors'>): string {
  const entries = Object.entries(result.errors);
  return entries.length === 0 ? '0' : entries.map(([reason, count]) => `${n(count)} ${reason}`).join(', ');
}

/** The closed-loop cases of one query, with their ratio to the ceiling; labels from the run's shape and budget. */
export function throughputTable(cases: ThroughputCases, data: Pick<ReportData, 'budget' | 'shape'>): string {
  const ceiling = ceilingOf(cases).throughput;
  const { connections, callers, naivePoolSize } = data.shape;
  const { reservedForCritical, maxConcurrentConnections } = data.budget;
  const rows: Array<[string, WorkloadResult]> = [
    [
      `1. Dedicated: ${connections} connections of their own, each kept full by ${callers / connections} pipelining callers`,
      cases.dedicated,
    ],
    [
      `1b. One at a time: ${connections} callers on ${connections} connections, one query each at a time (no pipelining)`,
      cases.oneAtATime,
    ],
    [
      `2. db-safeguards, defaults (${callers} callers; ${reservedForCritical} of ${maxConcurrentConnections} slots kept for CRITICAL)`,
      cases.safeguards,
    ],
    [`2b. db-safeguards, no CRITICAL reserve (${callers} callers)`, cases.safeguardsNoReserve],
    [`3. Naive: pool of ${naivePoolSize}, no safeguards (${callers} callers)`, cases.naive],
    [`4. Pool only: postgres.js max ${connections}, no safeguards (${callers} callers)`, cases.poolOnly],
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

/** One open-loop run, per priority. */
export function overloadTable(title: string, result: OpenLoopResult): string {
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

/** "BATCH shed at half full, LOW at three quarters", from the queue's `shedAt` fractions. */
export function describeShedding(queue: ReportData['queue']): string {
  const fraction = (value: number) =>
    value === 0.5
      ? 'half full'
      : value === 0.25
        ? 'a quarter full'
        : value === 0.75
          ? 'three quarters full'
          : `${n(value * 100)} % full`;
  const order = ['BATCH', 'LOW', 'NORMAL', 'HIGH', 'CRITICAL'] as const;
  const parts = order
    .filter((name) => queue.shedAt[name] !== undefined && queue.shedAt[name]! < 1)
    .map((name) => `${name} shed at ${fraction(queue.shedAt[name]!)}`);
  return parts.length === 0 ? 'nothing shed before the queue is full' : parts.join(', ');
}
