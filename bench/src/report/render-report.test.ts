import { describe, expect, it } from 'vitest';
import { connectionErrorsThroughSafeguards, renderReport } from './render-report.js';
import { sampleReportData } from './sample-report-data.js';

/** The targets table row whose first cell starts with `target`. */
function targetRow(report: string, target: string): string {
  const row = report.split('\n').find((line) => line.startsWith(`| ${target}`));
  if (!row) throw new Error(`no target row "${target}" in:\n${report}`);
  return row;
}

describe('renderReport: the connection-error target', () => {
  it('counts CONNECTION failures in every guarded case, every round, every overload run and every load test', () => {
    const data = sampleReportData((d) => {
      // A non-median round of the app query's no-reserve case, one overload run, one load test.
      d.queries.app!.throughput.errorsByTypeAllRounds.safeguardsNoReserve = { CONNECTION: 2, QUEUE_FULL: 9 };
      d.overload.safeguardsRuns[2]!.errorsByType = { CONNECTION: 1 };
      d.loadtests[2]!.report.errorsByType = { CONNECTION: 4, TIMEOUT: 7 };
      // Failures of the naive case are not db-safeguards' clients.
      d.queries.sleep!.throughput.naive.errorsByType = { CONNECTION: 500 };
    });
    expect(connectionErrorsThroughSafeguards(data).total).toBe(7);
    const row = targetRow(renderReport(data), 'connection errors seen by clients');
    expect(row).toContain(
      '| 7 (2 in closed loop, app, no CRITICAL reserve; 1 in overload run 3; 4 in load test',
    );
    expect(row).toMatch(/\*\*missed\*\* \|$/);
  });

  it('is met only at zero', () => {
    const row = targetRow(renderReport(sampleReportData()), 'connection errors seen by clients');
    expect(row).toContain('| 0 |');
    expect(row).toMatch(/\*\*met\*\* \|$/);
  });
});

describe('renderReport: data it cannot read', () => {
  it('refuses data of another schema version instead of rendering wrong figures', () => {
    const old = sampleReportData((d) => {
      (d as { schemaVersion: number }).schemaVersion = 1;
    });
    expect(() => renderReport(old)).toThrow('schema version 1');
  });
});

describe('renderReport: the sample app under overload is judged', () => {
  it('compares goodput and HIGH p99 of the overload run with the comfortable run, and says why they missed', () => {
    const data = sampleReportData((d) => {
      const overload = d.loadtests.find((run) => run.id === 'latency-overload')!.report;
      overload.throughput = 40;
      overload.ok = 600;
      overload.failed = 3900;
      overload.errorsByType = { TIMEOUT: 2500, QUEUE_FULL: 1400 };
      overload.byPriority.HIGH.latencyMs = { ...overload.byPriority.HIGH.latencyMs, p99: 7706 };
      overload.byPriority.HIGH.errors = { TIMEOUT: 120 };
      overload.peakDbConnections = 8;
      const comfortable = d.loadtests.find((run) => run.id === 'latency-comfortable')!.report;
      comfortable.byPriority.HIGH.latencyMs = { ...comfortable.byPriority.HIGH.latencyMs, p99: 231 };
    });
    const report = renderReport(data);
    const goodput = targetRow(report, 'sample app at 5.0× its comfortable rate (300 vs 60 req/s): goodput');
    expect(goodput).toContain('| 40.0 vs 60.0 ok/s: 0.67× | **missed** |');
    const high = targetRow(report, 'sample app at 5.0× its comfortable rate: HIGH p99');
    expect(high).toContain('| 7,706 ms vs 231 ms: 33.4× | **missed** |');
    expect(report).toContain(
      '- **Sample app goodput under overload (0.67×).** At 300 req/s the app completed 40.0 requests a second',
    );
    expect(report).toContain('failed: 2,500 TIMEOUT, 1,400 QUEUE_FULL');
    expect(report).toContain('Peak database connections: 8.');
    expect(report).toContain(
      '- **Sample app HIGH latency under overload (33.4×).** HIGH (dose recordings) p99 was 7,706 ms',
    );
  });

  it('says met, and explains nothing, when the overload run holds up', () => {
    const report = renderReport(sampleReportData());
    expect(targetRow(report, 'sample app at 5.0× its comfortable rate (300 vs 60 req/s): goodput')).toContain(
      '| 62.0 vs 60.0 ok/s: 1.03× | **met** |',
    );
    expect(targetRow(report, 'sample app at 5.0× its comfortable rate: HIGH p99')).toContain(
      '2.3× | **met** |',
    );
    expect(report).not.toContain('Sample app goodput under overload');
  });
});
