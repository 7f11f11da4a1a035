import { describe, expect, it } from 'vitest';
import type { LoopRecord } from './closed-loop.js';
import { recoveryAfterKill, slotsBackAfterKill, summarisePhase } from './phase-summary.js';

const rec = (
  instance: number,
  endedAtMs: number,
  ok = true,
  extra: Partial<LoopRecord> = {},
): LoopRecord => ({
  instance,
  scenario: 'record',
  priority: 'HIGH',
  startedAtMs: endedAtMs - 10,
  endedAtMs,
  ok,
  ...extra,
});

describe('summarisePhase', () => {
  it('counts successes that ended within the phase, failures by kind, breaker and read-only from samples and clients', () => {
    const records = [
      rec(0, 100),
      rec(0, 900),
      rec(1, 1200), // ended after the 1 s phase: not a success of the phase, not a failure either
      rec(1, 500, false, { errorType: 'CONNECTION', reason: 'too-many-connections' }),
      rec(1, 600, false, { errorType: 'CIRCUIT_BREAKER', reason: 'read-only' }),
    ];
    const samples = [
      { atMs: 0, instance: 0, breaker: 0, readOnly: false, limit: 8, sharedMode: 'shared' },
      { atMs: 500, instance: 1, breaker: 2, readOnly: true, limit: 3, sharedMode: 'shared' },
    ];
    const summary = summarisePhase(
      { name: 'x', mode: 'shared', round: 1, loadedInstances: 2, clientsPerInstance: 1, durationMs: 1000 },
      records,
      samples,
      7,
    );
    expect(summary).toMatchObject({
      ok: 2,
      failed: 2,
      okPerSecond: 2,
      tooManyConnections: 1,
      breakerOpenings: 1,
      readOnly: 2,
      lowestLimit: 3,
      peakBackends: 7,
      failures: { 'CONNECTION/too-many-connections': 1, 'CIRCUIT_BREAKER/read-only': 1 },
    });
  });
});

describe('summarisePhase: where slow urgent calls came from', () => {
  it('gives each instance its HIGH p99, and lists the slowest HIGH calls with the limit their instance had when they were sent', () => {
    const records = [
      rec(0, 100, true, { startedAtMs: 90 }),
      rec(1, 900, true, { startedAtMs: 100 }), // 800 ms, sent while instance 1 held 1 slot
      rec(1, 950, true, { startedAtMs: 700, priority: 'NORMAL', scenario: 'list' }), // slowest, but NORMAL
      rec(0, 600, true, { startedAtMs: 400 }), // 200 ms, sent while instance 0 held 3
    ];
    const samples = [
      { atMs: 0, instance: 0, breaker: 0, readOnly: false, limit: 2, sharedMode: 'shared' },
      { atMs: 50, instance: 1, breaker: 0, readOnly: false, limit: 1, sharedMode: 'shared' },
      { atMs: 300, instance: 0, breaker: 0, readOnly: false, limit: 3, sharedMode: 'shared' },
      { atMs: 500, instance: 1, breaker: 0, readOnly: false, limit: 2, sharedMode: 'shared' },
    ];
    const summary = summarisePhase(
      { name: 'x', mode: 'shared', round: 1, loadedInstances: 2, clientsPerInstance: 2, durationMs: 1000 },
      records,
      samples,
      3,
    );
    expect(summary.perInstance).toEqual({ '0': { ok: 2, highP99Ms: 200 }, '1': { ok: 2, highP99Ms: 800 } });
    expect(summary.slowestHigh).toEqual([
      { instance: 1, sentAtMs: 100, latencyMs: 800, limitAtSend: 1 },
      { instance: 0, sentAtMs: 400, latencyMs: 200, limitAtSend: 3 },
      { instance: 0, sentAtMs: 90, latencyMs: 10, limitAtSend: 2 },
    ]);
  });
});

describe('recoveryAfterKill', () => {
  it('measures from the kill until the survivors answer 0.9 × what all did before, over every sliding second from then on', () => {
    const records: LoopRecord[] = [];
    // Before the kill at 3 s: 4 instances × 10/s. After: survivors at 3 × 10/s until 6 s, then 40/s.
    for (let t = 0; t < 3000; t += 100) for (let i = 0; i < 4; i++) records.push(rec(i, t + 50));
    for (let t = 3000; t < 6000; t += 100) for (let i = 0; i < 3; i++) records.push(rec(i, t + 50));
    for (let t = 6000; t < 9000; t += 25) for (let i = 0; i < 3; i++) records.push(rec(i, t + 10));
    const result = recoveryAfterKill(records, 3, 3000, 9000);
    expect(result.beforePerSecond).toBe(40);
    expect(result.recoveryMs).toBeGreaterThan(3000);
    expect(result.recoveryMs).toBeLessThanOrEqual(4000);
    expect(result.afterPerSecond).toBeGreaterThan(100);
    // Whole seconds from the kill: 3 × 10 for three seconds, then 3 × 40.
    expect(result.survivorsPerSecond).toEqual([30, 30, 30, 120, 120, 120]);
  });

  it('does not count a good second that the survivors fall back from', () => {
    const records: LoopRecord[] = [];
    // 40/s before the kill at 3 s; a burst of 40 in 3–4 s, 20/s until 7 s, then 40/s to the end (10 s).
    for (let t = 0; t < 3000; t += 100) for (let i = 0; i < 4; i++) records.push(rec(i, t + 50));
    for (let t = 3000; t < 4000; t += 25) records.push(rec(0, t + 10));
    for (let t = 4000; t < 7000; t += 50) records.push(rec(0, t + 10));
    for (let t = 7000; t < 10_000; t += 25) records.push(rec(0, t + 10));
    const result = recoveryAfterKill(records, 3, 3000, 10_000);
    expect(result.recoveryMs).toBeGreaterThan(4000);
    expect(result.recoveryMs).toBeLessThanOrEqual(5000);
  });

  it('is null when they never get there', () => {
    const records = [rec(0, 100), rec(1, 200), rec(0, 2000)];
    expect(recoveryAfterKill(records, 1, 1000, 3000, 0.9, 1000).recoveryMs).toBeNull();
  });
});

describe('slotsBackAfterKill', () => {
  const sample = (instance: number, atMs: number, limit: number) => ({
    atMs,
    instance,
    breaker: 0,
    readOnly: false,
    limit,
    sharedMode: 'shared',
  });

  it('finds the first sample after the kill at which the survivors hold the whole capacity', () => {
    const samples = [
      sample(0, 900, 2),
      sample(1, 900, 2),
      sample(2, 900, 2),
      sample(3, 900, 2),
      sample(0, 1400, 2),
      sample(1, 1400, 3),
      sample(2, 1400, 2),
      sample(0, 1900, 3),
      sample(1, 1900, 3),
      sample(2, 1900, 2),
    ];
    // Killed at 1000 ms: 2 + 3 + 2 = 7 at 1400, 3 + 3 + 2 = 8 at 1900.
    expect(slotsBackAfterKill(samples, 3, 1000, 8)).toBe(900);
    expect(slotsBackAfterKill(samples, 3, 1000, 9)).toBeNull();
  });
});
