import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useState } from 'react';
import { useTRPC } from '../api/trpc.js';
import { ErrorNotice } from '../components/error-notice.js';
import { QueryView } from '../components/query-view.js';
import { HouseholdNav } from './household-nav.js';

/** Reports are LOW priority on the server: under load they are shed first, and the page says so. */
function Adherence({ householdId }: { householdId: string }) {
  const trpc = useTRPC();
  const daysId = useId();
  const [days, setDays] = useState(7);
  const report = useQuery(trpc.reports.adherence.queryOptions({ householdId, days }));
  return (
    <section aria-labelledby="adherence">
      <h2 id="adherence">Adherence</h2>
      <label htmlFor={daysId}>Period</label>{' '}
      <select id={daysId} value={days} onChange={(event) => setDays(Number(event.target.value))}>
        <option value={7}>Last 7 days</option>
        <option value={30}>Last 30 days</option>
        <option value={90}>Last 90 days</option>
      </select>
      <QueryView query={report} what="the adherence report">
        {(rows) =>
          rows.length === 0 ? (
            <p>No active medications.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Animal</th>
                  <th scope="col">Medication</th>
                  <th scope="col">Doses expected</th>
                  <th scope="col">Doses recorded</th>
                  <th scope="col">Adherence</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.regimenId}>
                    <td>{row.animal}</td>
                    <td>{row.medication}</td>
                    <td>{row.expected ?? 'as scheduled'}</td>
                    <td>{row.recorded}</td>
                    <td>{row.adherence === null ? '' : `${Math.round(row.adherence * 100)}%`}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </QueryView>
    </section>
  );
}

/** Downloads every recorded dose as CSV (the format the import page reads). */
function CsvExport({ householdId }: { householdId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<{ error: unknown; at: number } | null>(null);
  const [download, setDownload] = useState<string | null>(null);
  useEffect(() => () => (download ? URL.revokeObjectURL(download) : undefined), [download]);
  const exportCsv = async () => {
    setBusy(true);
    setFailure(null);
    try {
      const result = await queryClient.fetchQuery({
        ...trpc.reports.export.queryOptions({ householdId, format: 'csv' }),
        staleTime: 0,
      });
      if (result.format !== 'csv') return;
      const url = URL.createObjectURL(new Blob([result.csv], { type: 'text/csv;charset=utf-8' }));
      setDownload(url);
      const link = document.createElement('a');
      link.href = url;
      link.download = `vetmed-doses-${new Date().toISOString().slice(0, 10)}.csv`;
      link.click();
    } catch (error) {
      setFailure({ error, at: Date.now() });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="export">
      <h2 id="export">Export</h2>
      <p>Every recorded dose of the household, as a CSV file (it can be imported again).</p>
      <button type="button" className="button-secondary" onClick={exportCsv} disabled={busy}>
        {busy ? 'Preparing…' : 'Download CSV'}
      </button>
      {failure && <ErrorNotice error={failure.error} receivedAt={failure.at} onRetry={exportCsv} />}
    </section>
  );
}

export function ReportsPage({ householdId }: { householdId: string }) {
  return (
    <section>
      <h1>Reports</h1>
      <HouseholdNav householdId={householdId} />
      <Adherence householdId={householdId} />
      <CsvExport householdId={householdId} />
    </section>
  );
}
