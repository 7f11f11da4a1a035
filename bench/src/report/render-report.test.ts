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
