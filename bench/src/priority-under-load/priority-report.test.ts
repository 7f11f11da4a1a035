import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  cpuShares,
  type OpenLoopPhase,
  type PriorityReport,
  renderPrioritySection,
} from './priority-report.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function phase(normalPerSecond: number, highP99Ms: number, goodputPerSecond: number): OpenLoopPhase {
  return {
    normalPerSecond,
    highSent: 100,
    highOk: 100,
    highP50Ms: highP99Ms / 4,
    highP99Ms,
    highFailures: {},
    normalSent: normalPerSecond * 10,
    normalOk: normalPerSecond * 5,
    normalFailures: { 'QUEUE_FULL/overloaded': normalPerSecond * 5 },
    goodputPerSecond,
    app: { samples: 10, cpuCoresMean: 0.8, cpuCoresPeak: 0.9, eventLoopLagP99MsPeak: 30 },
    generatorLagP99Ms: 20,
  };
}

function written(report: PriorityReport): string {
  const dir = mkdtempSync(join(tmpdir(), 'priority-report-'));
  dirs.push(dir);
  const path = join(dir, 'priority-under-load.json');
  writeFileSync(path, JSON.stringify(report));
  return path;
}

describe('renderPrioritySection', () => {
  it('lists every round with its verdicts, and names the command that measured it', () => {
    const round = (highP99Ms: number, goodput: number) => ({
      capacityPerSecond: 400,
      capacityFailures: {},
      light: phase(120, 20, 130),
      heavy: phase(1200, highP99Ms, goodput),
      highP99Ratio: highP99Ms / 20,
      goodputRatio: goodput / 400,
    });
    const section = renderPrioritySection(
      written({
        schemaVersion: 1,
        command: 'pnpm bench:priority -- --rounds 2',
        machine: '2 × test CPU, Node v20',
        durationMs: 10_000,
        generatedAt: '2026-12-07T00:30:00.000Z',
        rounds: [round(50, 380), round(300, 300)],
      }),
    )!;
    expect(section).toContain('`pnpm bench:priority -- --rounds 2 --json docs/priority-under-load.json`');
    expect(section).not.toContain('--json docs/priority-under-load.json --json');
    expect(section).toContain('Round 1: capacity 400.0 ok/s');
    expect(section).toContain('Round 2: capacity 400.0 ok/s');
    expect(section).toContain('- HIGH p99 at 3 × ≤ 3 × at 0.3 ×: 50 vs 20 ms: 2.50× (met)');
    expect(section).toContain('- HIGH p99 at 3 × ≤ 3 × at 0.3 ×: 300 vs 20 ms: 15.00× (**missed**)');
    expect(section).toContain('- goodput at 3 × ≥ 0.85 × capacity: 300.0 vs 400.0 ok/s: 0.75× (**missed**)');
  });

  it('puts the app CPU at 3 × that served calls did not take on the calls it refused', () => {
    // Capacity: 400 ok/s on 0.8 cores, 2,000 µs a call. At 3 × (10 s): 9,000 calls sent, 300 ok/s
    // within the phase on 1.0 cores, so served calls took 0.6 cores and the 6,000 calls not served
    // (600 a second) 0.4: 667 µs each.
    const heavy = {
      ...phase(1200, 100, 300),
      app: { samples: 10, cpuCoresMean: 1, cpuCoresPeak: 1, eventLoopLagP99MsPeak: 50 },
    };
    heavy.normalSent = 8_900;
    heavy.normalOk = 2_900;
    const round = {
      capacityPerSecond: 400,
      capacityFailures: {},
      capacityApp: { samples: 10, cpuCoresMean: 0.8, cpuCoresPeak: 0.9, eventLoopLagP99MsPeak: 20 },
      light: phase(120, 20, 130),
      heavy,
      highP99Ratio: 5,
      goodputRatio: 0.75,
    };
    const shares = cpuShares(round, 10_000)!;
    expect(shares.servedCpuUs).toBeCloseTo(2000);
    expect(shares.refusedPerSecond).toBe(600);
    expect(shares.refusedShareOfCore).toBeCloseTo(0.4);
    expect(shares.refusedCpuUs).toBeCloseTo(666.7, 0);
    expect(shares.ratio).toBeCloseTo(0.333, 2);
    // Without the capacity run's CPU (older reports) there is nothing to say.
    expect(cpuShares({ ...round, capacityApp: undefined }, 10_000)).toBeUndefined();
    // Serving more at 3 × than the capacity run's cost per call allows: no split, rather than a
    // refusal that cost nothing.
    expect(cpuShares({ ...round, heavy: { ...heavy, goodputPerSecond: 600 } }, 10_000)).toBeUndefined();
  });

  it('is absent without a file and refuses another schema', () => {
    expect(renderPrioritySection('/nonexistent/priority-under-load.json')).toBeUndefined();
    const path = written({ schemaVersion: 2 } as unknown as PriorityReport);
    expect(() => renderPrioritySection(path)).toThrow(/schema version 2/);
  });
});
