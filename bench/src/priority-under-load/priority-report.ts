import { existsSync, readFileSync } from 'node:fs';
import type { AppProcessLoad } from '../loadtest/app-process-sampler.js';

/** One open-loop phase, summarised. */
export interface OpenLoopPhase {
  normalPerSecond: number;
  highSent: number;
  highOk: number;
  highP50Ms: number;
  highP99Ms: number;
  highFailures: Record<string, number>;
  normalSent: number;
  normalOk: number;
  normalFailures: Record<string, number>;
  /** Calls answered with success within the phase, a second. */
  goodputPerSecond: number;
  /** The app's CPU and event-loop lag during the phase, from its /metrics. */
  app: AppProcessLoad | undefined;
  /** The load generator's own event-loop delay p99 (ms): a late generator inflates every latency. */
  generatorLagP99Ms: number;
}

export interface PriorityRound {
  capacityPerSecond: number;
  capacityFailures: Record<string, number>;
  light: OpenLoopPhase;
  heavy: OpenLoopPhase;
  highP99Ratio: number;
  goodputRatio: number;
}

/** What `pnpm bench:priority -- --json FILE` writes: every round of one invocation. */
export interface PriorityReport {
  schemaVersion: 1;
  command: string;
  machine: string;
  durationMs: number;
  generatedAt: string;
  rounds: PriorityRound[];
}

const describeFailures = (failures: Record<string, number>) =>
  Object.keys(failures).length === 0
    ? 'none'
    : Object.entries(failures)
        .map(([key, count]) => `${key} ×${count}`)
        .join(', ');

export function formatRound(round: PriorityRound, index: number): string {
  const { light, heavy } = round;
  const verdict = (met: boolean) => (met ? 'met' : '**missed**');
  const highFailed = heavy.highSent - heavy.highOk + (light.highSent - light.highOk);
  return [
    `Round ${index + 1}: capacity ${round.capacityPerSecond.toFixed(1)} ok/s closed loop (failures: ${describeFailures(round.capacityFailures)})`,
    '',
    '| NORMAL arriving | HIGH sent | HIGH ok | HIGH p50 | HIGH p99 | HIGH failures | NORMAL sent | NORMAL ok | NORMAL refused or failed | goodput | app CPU mean / peak | app lag p99 peak | generator lag p99 |',
    '|---|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---:|',
    ...[
      ['0.3 ×', light],
      ['3 ×', heavy],
    ].map(([label, p]) => {
      const phase = p as OpenLoopPhase;
      return `| ${label} capacity (${phase.normalPerSecond}/s) | ${phase.highSent} | ${phase.highOk} | ${phase.highP50Ms.toFixed(0)} ms | ${phase.highP99Ms.toFixed(0)} ms | ${describeFailures(phase.highFailures)} | ${phase.normalSent} | ${phase.normalOk} | ${describeFailures(phase.normalFailures)} | ${phase.goodputPerSecond.toFixed(1)} ok/s | ${phase.app ? `${phase.app.cpuCoresMean.toFixed(2)} / ${phase.app.cpuCoresPeak.toFixed(2)} cores` : 'n/a'} | ${phase.app ? `${phase.app.eventLoopLagP99MsPeak.toFixed(0)} ms` : 'n/a'} | ${phase.generatorLagP99Ms.toFixed(0)} ms |`;
    }),
    '',
    `- HIGH p99 at 3 × ≤ 3 × at 0.3 ×: ${heavy.highP99Ms.toFixed(0)} vs ${light.highP99Ms.toFixed(0)} ms: ${round.highP99Ratio.toFixed(2)}× (${verdict(round.highP99Ratio <= 3)})`,
    `- no HIGH call failed: ${highFailed} failed (${verdict(highFailed === 0)})`,
    `- goodput at 3 × ≥ 0.85 × capacity: ${heavy.goodputPerSecond.toFixed(1)} vs ${round.capacityPerSecond.toFixed(1)} ok/s: ${round.goodputRatio.toFixed(2)}× (${verdict(round.goodputRatio >= 0.85)})`,
  ].join('\n');
}

/**
 * The open-loop priority section of docs/benchmarks.md, from `docs/priority-under-load.json`: a run
 * of its own, so the section says which. Undefined when there is no such file.
 */
export function renderPrioritySection(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const report = JSON.parse(readFileSync(path, 'utf8')) as PriorityReport;
  if (report.schemaVersion !== 1)
    throw new Error(`${path} has schema version ${String(report.schemaVersion)}, expected 1`);
  return [
    "## Urgent work when the app's own CPU runs out (open loop)",
    '',
    `Not from the run above: measured by \`${report.command.includes('--json') ? report.command : `${report.command} --json docs/priority-under-load.json`}\` on ${report.generatedAt.slice(0, 10)} (${report.generatedAt.slice(11, 16)} UTC), ${report.machine}, a machine the load generator and PostgreSQL share with the app. One sample-app process on PostgreSQL (role limited to 8). Capacity: 32 closed-loop clients reading dose histories (NORMAL) and 2 recording doses (HIGH) for ${report.durationMs / 1000} s, on a process of its own with the utilisation target off (the most the app serves). Then, on the app as shipped, open loop: dose recordings (HIGH) arriving at 10 a second beside history reads arriving at 0.3 × and then 3 × that capacity, ${report.durationMs / 1000} s each. Arrivals do not wait for answers, as real users' do not. Every round is listed.`,
    '',
    ...report.rounds.flatMap((round, index) => [formatRound(round, index), '']),
    '### Reading it',
    '',
    "- **Why HIGH waits at 3 ×:** a refused call still costs the app an HTTP request's parsing and an answer, and at 3 × most reads are refused. Once the event loop is saturated, new requests wait unread in the socket buffers, urgent ones with the rest: no priority can help a request the process has not read yet. The app keeps its loop at 90 % busy at most (`LOAD_UTILIZATION_TARGET`): from 300 ms of a busier loop on, it admits only a share of NORMAL calls (and no LOW or BATCH), so there is room to read each new request soon after it arrives; HIGH and CRITICAL are never held back by it.",
    "- **What is left of HIGH p99:** the first few hundred milliseconds of the burst, before the share has come down (the 300 ms a burst may last before it counts as overload, and the backlog built meanwhile), and moments when the machine's two cores are taken by the load generator and PostgreSQL (see the generator's own lag). The light phase's p99 is 10 to 40 ms on this machine, so the ratio moves a lot with a single slow call among about a hundred HIGH calls.",
    "- **Goodput against the capacity:** 34 closed-loop clients wait for each answer, so they need not fill the app; open-loop arrivals do, so goodput at 3 × can land above or below the yardstick. At 3 × the utilisation target holds NORMAL's share down until the loop is at most 90 % busy. The loop's busy time counts the moments the process waits for a core, and here the load generator and PostgreSQL share the app's two cores, so the target probably cuts deeper than the app's own CPU needs: compare the app's CPU in the table. Runs where the edge, the middleware and a call's first operation each took from the share (before commit c391492) served more at 3 × than these.",
  ].join('\n');
}
