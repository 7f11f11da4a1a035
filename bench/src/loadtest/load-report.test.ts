import { describe, expect, it } from 'vitest';
import { buildLoadReport, formatLoadReport } from './load-report.js';
import type { RequestRecord } from './open-loop.js';

const info = { target: 'test', ratePerSecond: 10, users: 1, peakDbConnections: null, appProcess: null };

function request(fields: Partial<RequestRecord> & Pick<RequestRecord, 'sentAtMs' | 'completedAtMs' | 'ok'>) {
  return {
    scenario: 'list',
    priority: 'NORMAL',
    latencyMs: fields.completedAtMs - fields.sentAtMs,
    ...fields,
  } as RequestRecord;
}

describe('buildLoadReport', () => {
  it('counts throughput from the successes that completed inside the run window, not after it', () => {
    const records = [
      ...Array.from({ length: 10 }, (_, i) =>
        request({ sentAtMs: i * 100, completedAtMs: i * 100 + 50, ok: true }),
      ),
      // Sent inside the 1 s window, answered 4 s after it: served, but not goodput of this window.
      ...Array.from({ length: 10 }, (_, i) =>
        request({ sentAtMs: 900 + i, completedAtMs: 5000 + i, ok: true }),
      ),
    ];
    const report = buildLoadReport({ records, durationMs: 1000, elapsedMs: 5010, droppedByClient: 0 }, info);
    expect(report.ok).toBe(20);
    expect(report.throughput).toBe(10);
    expect(report.elapsedMs).toBe(5010);
  });

  it('keeps failure latencies apart from the ok-only percentiles, and counts UNFINISHED requests as failed', () => {
    const records = [
      request({ sentAtMs: 0, completedAtMs: 20, ok: true }),
      request({ sentAtMs: 0, completedAtMs: 3000, ok: false, errorType: 'TIMEOUT', status: 504 }),
      request({ sentAtMs: 0, completedAtMs: 9000, ok: false, errorType: 'UNFINISHED' }),
    ];
    const report = buildLoadReport({ records, durationMs: 1000, elapsedMs: 9000, droppedByClient: 0 }, info);
    expect(report).toMatchObject({ sent: 3, ok: 1, failed: 2, unfinished: 1 });
    expect(report.byPriority.NORMAL.latencyMs.p99).toBe(20);
    expect(report.byPriority.NORMAL.failedLatencyMs.p99).toBe(9000);
    expect(report.errorsByType).toEqual({ TIMEOUT: 1, UNFINISHED: 1 });
    const table = formatLoadReport(report);
    expect(table).toContain('ok only');
    expect(table).toMatch(/NORMAL\s+3\s+1\s+20\s+20\s+20\s+9000\s+TIMEOUT 1, UNFINISHED 1/);
    expect(table).toContain('failed 2 (unfinished 1)');
  });

  it('counts the CONNECTION failures by the reason the server gave', () => {
    const records = [
      request({ sentAtMs: 0, completedAtMs: 20, ok: true }),
      ...Array.from({ length: 2 }, () =>
        request({
          sentAtMs: 0,
          completedAtMs: 30,
          ok: false,
          errorType: 'CONNECTION',
          reason: 'too-many-connections',
        }),
      ),
      request({
        sentAtMs: 0,
        completedAtMs: 30,
        ok: false,
        errorType: 'CONNECTION',
        reason: 'connection-reset',
      }),
      request({ sentAtMs: 0, completedAtMs: 30, ok: false, errorType: 'TIMEOUT', reason: 'deadline' }),
    ];
    const report = buildLoadReport({ records, durationMs: 1000, elapsedMs: 1000, droppedByClient: 0 }, info);
    expect(report.errorsByType).toEqual({ CONNECTION: 3, TIMEOUT: 1 });
    expect(report.connectionReasons).toEqual({ 'too-many-connections': 2, 'connection-reset': 1 });
  });
});
