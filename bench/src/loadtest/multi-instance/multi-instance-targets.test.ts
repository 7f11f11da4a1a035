import { describe, expect, it } from 'vitest';
import { judgeTargets, median } from './multi-instance-targets.js';
import type { PhaseSummary } from './phase-summary.js';
import type { KillResult, MultiInstanceReport } from './run-multi-instance.js';

const phase = (
  mode: PhaseSummary['mode'],
  round: number,
  loadedInstances: number,
  okPerSecond: number,
  extra: Partial<PhaseSummary> = {},
): PhaseSummary => ({
  name: loadedInstances === 1 ? 'one instance' : '4 instances',
  mode,
  round,
  loadedInstances,
  clientsPerInstance: loadedInstances === 1 ? 80 : 20,
  durationMs: 10_000,
  ok: okPerSecond * 10,
  failed: 0,
  failures: {},
  okPerSecond,
  highP99Ms: 100,
  normalP99Ms: 100,
  peakBackends: 8,
  breakerOpenings: 0,
  readOnly: 0,
  tooManyConnections: 0,
  lowestLimit: 1,
  limitTrace: {},
  perInstance: {},
  slowestHigh: [],
  ...extra,
});

const kill = (round: number, recoveryMs: number | null): KillResult => ({
  phase: phase('shared', round, 4, 200),
  killAtMs: 5000,
  leaseMs: 5000,
  beforePerSecond: 200,
  recoveryMs,
  afterPerSecond: 200,
  survivorFailures: {},
});

function report(phases: PhaseSummary[], kills: KillResult[]): MultiInstanceReport {
  return {
    schemaVersion: 2,
    generatedAt: '2026-12-07T00:00:00.000Z',
    command: 'pnpm loadtest -- --instances 4 --rounds 3',
    instances: 4,
    clientsPerInstance: 20,
    durationMs: 10_000,
    connectionLimit: 8,
    rounds: 3,
    phases,
    kills,
    outage: {
      phase: phase('shared', 1, 4, 200),
      stoppedAtMs: 5000,
      restartedAtMs: 15_000,
      failuresDuringOutage: {},
      degradedInstances: 4,
      backToSharedMs: 1000,
      fallbackLimits: [2],
    },
    rateLimit: { limit: 100, sent: 130, local: 130, shared: 100, failed: {} },
  };
}

const verdict = (r: MultiInstanceReport, start: string) => {
  const found = judgeTargets(r).find((v) => v.target.startsWith(start));
  if (!found) throw new Error(`no target starting "${start}"`);
  return found;
};

describe('median', () => {
  it('takes the middle of an odd count and the worse middle of an even one; null counts as the worst', () => {
    expect(median([0.8, 1.2, 0.95], 'higher')).toBe(0.95);
    expect(median([0.8, 1.2, 0.95, 1.0], 'higher')).toBe(0.95);
    expect(median([0.8, 1.2, 0.95, 1.0], 'lower')).toBe(1.0);
    expect(median([1100, null, 9700], 'lower')).toBe(9700);
    expect(median([1100, null, null], 'lower')).toBeNull();
    expect(median([], 'lower')).toBeNull();
  });
});

describe('judgeTargets over rounds', () => {
  const rounds = (sharedMany: number[], localMany: number[]) => [
    ...[1, 2, 3].flatMap((round) => [
      phase('local', round, 1, 200),
      phase('local', round, 4, localMany[round - 1]!),
      phase('shared', round, 1, 200),
      phase('shared', round, 4, sharedMany[round - 1]!),
    ]),
  ];

  it('judges throughput on the median round, pairing each round with its own yardstick', () => {
    const r = report(rounds([150, 190, 210], [180, 120, 200]), [kill(1, 1000), kill(2, 2000), kill(3, 3000)]);
    expect(verdict(r, 'with Redis: throughput').met).toBe(true); // median 0.95
    expect(verdict(r, 'with Redis: throughput').measured).toContain('rounds: 0.75×, 0.95×, 1.05×');
    expect(verdict(r, 'without Redis: throughput').met).toBe(true); // median 0.9
    const missed = report(rounds([150, 170, 210], [130, 120, 200]), [kill(1, 1000)]);
    expect(verdict(missed, 'with Redis: throughput').met).toBe(false); // median 0.85
    expect(verdict(missed, 'without Redis: throughput').met).toBe(false); // median 0.65
  });

  it('judges the recovery after a kill on the median round; never recovering counts as the worst', () => {
    const phases = rounds([200, 200, 200], [200, 200, 200]);
    expect(verdict(report(phases, [kill(1, 1100), kill(2, null), kill(3, 4000)]), 'one of 4').met).toBe(true);
    expect(verdict(report(phases, [kill(1, 1100), kill(2, null), kill(3, 9700)]), 'one of 4').met).toBe(
      false,
    );
  });

  it('lists the per-second answers of a round that came back later than the lease, and of no other', () => {
    const phases = rounds([200, 200, 200], [200, 200, 200]);
    const slow = { ...kill(1, 9060), survivorsPerSecond: [150, 190, 170, 200, 210] };
    const quick = { ...kill(2, 1100), survivorsPerSecond: [185, 200] };
    const { measured } = verdict(report(phases, [slow, quick, kill(3, 1200)]), 'one of 4');
    expect(measured).toContain(
      "round 1, the survivors' ok per second from the kill on (0.9 × before: 180.0): 150, 190, 170, 200, 210",
    );
    expect(measured).not.toContain('round 2,');
  });

  it("shows each round's control (nobody killed, measured the same way) when the report has it", () => {
    const phases = rounds([200, 200, 200], [200, 200, 200]);
    const withControl = (k: KillResult, recoveryMs: number | null) => ({
      ...k,
      withoutKill: { beforePerSecond: 210, recoveryMs, afterLeasePerSecond: 205, perSecond: [200, 190] },
    });
    const { measured } = verdict(
      report(phases, [withControl(kill(1, 9000), 7200), withControl(kill(2, 1100), null), kill(3, 1200)]),
      'one of 4',
    );
    expect(measured).toContain(
      'the same phase with nobody killed, measured the same way from 5 s in: 7200 ms (210.0 ok/s before, 205.0 from 10 s on), never (210.0 ok/s before, 205.0 from 10 s on)',
    );
    expect(verdict(report(phases, [kill(1, 1000)]), 'one of 4').measured).not.toContain('nobody killed');
  });

  it('judges a report with the after-lease rate on it and on the slots coming back, the sliding seconds shown beside', () => {
    const phases = rounds([200, 200, 200], [200, 200, 200]);
    const at = (
      round: number,
      afterLease: number,
      slotsBackMs: number | null,
      sliding: number | null = 1000,
    ) => ({
      ...kill(round, sliding),
      afterLeasePerSecond: afterLease,
      slotsBackMs,
    });
    // Every sliding-second recovery missed (a dip late in the phase), the rate after the lease back.
    const dips = verdict(
      report(phases, [at(1, 190, 2000, null), at(2, 185, 2500, 9000), at(3, 170, 2100, 8000)]),
      'one of 4',
    );
    expect(dips.met).toBe(true); // median 185 / 200 = 0.925
    expect(dips.measured).toContain('median 0.93× (rounds: 0.95×, 0.93×, 0.85×)');
    expect(dips.measured).toContain('median 9000 ms (rounds: never, 9000 ms, 8000 ms)');
    // The rate after the lease short in the median round.
    expect(
      verdict(report(phases, [at(1, 170, 2000), at(2, 175, 2000), at(3, 200, 2000)]), 'one of 4').met,
    ).toBe(false);
    // The rate back, but the slots later than the lease (or never).
    expect(
      verdict(report(phases, [at(1, 200, 6000), at(2, 200, null), at(3, 200, 2000)]), 'one of 4').met,
    ).toBe(false);
  });

  it('counts too-many-connections and breaker openings over every round, not just the median one', () => {
    const phases = rounds([200, 200, 200], [200, 200, 200]);
    phases[7] = { ...phases[7]!, tooManyConnections: 1, peakBackends: 9 };
    const r = report(phases, [kill(1, 1000)]);
    expect(verdict(r, 'with Redis, 4 × 20 clients: 0 client-visible').met).toBe(false);
    expect(verdict(r, 'with Redis: peak backends').measured).toContain('9');
    expect(verdict(r, 'with Redis: peak backends').met).toBe(false);
  });
});
