import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type ChangeEvent, useId, useState } from 'react';
import { queryRetryPolicy, retryOptions } from '../api/retry-policy.js';
import { useTRPC, useTRPCClient } from '../api/trpc.js';
import { ErrorNotice } from '../components/error-notice.js';
import {
  type ImportableRegimen,
  importColumns,
  type ParsedImport,
  readDoseRows,
} from '../imports/dose-rows.js';
import { HouseholdNav } from './household-nav.js';

/** The server takes at most 500 rows per call (and writes them in transactions of 100). */
const rowsPerCall = 500;

/** Bulk import of past doses from a CSV file (a paper log typed up, another app's export, this app's export). */
export function ImportPage({ householdId }: { householdId: string }) {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const fileId = useId();
  const [parsed, setParsed] = useState<(ParsedImport & { fileName: string }) | null>(null);
  const [reading, setReading] = useState(false);
  const [readFailure, setReadFailure] = useState<{ error: unknown; at: number } | null>(null);

  // Idempotent (every row has its key): retried like a read, and a retry skips the rows already written.
  const importRows = useMutation({
    ...retryOptions(queryRetryPolicy),
    mutationFn: async (rows: ParsedImport['rows']) => {
      const total = { received: 0, inserted: 0, skipped: 0 };
      for (let start = 0; start < rows.length; start += rowsPerCall) {
        const result = await client.imports.administrations.mutate({
          householdId,
          rows: rows.slice(start, start + rowsPerCall),
        });
        total.received += result.received;
        total.inserted += result.inserted;
        total.skipped += result.skipped;
      }
      return total;
    },
    onSuccess() {
      void queryClient.invalidateQueries({ queryKey: trpc.administrations.history.queryKey() });
    },
  });

  /** Every regimen of the household's animals, by animal and medication name. */
  const loadRegimens = async (): Promise<ImportableRegimen[]> => {
    const animals = await queryClient.fetchQuery(
      trpc.animals.list.queryOptions({ householdId, includeArchived: true }),
    );
    const perAnimal = await Promise.all(
      animals.map(async (animal) => {
        const regimens = await queryClient.fetchQuery(
          trpc.regimens.list.queryOptions({ animalId: animal.id }),
        );
        return regimens.value.map((regimen) => ({
          id: regimen.id,
          animal: animal.name,
          medication: regimen.medication.name,
        }));
      }),
    );
    return perAnimal.flat();
  };

  const onFile = async (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    // Emptied, so choosing the same file again (to import it again) is a change too.
    event.target.value = '';
    setParsed(null);
    setReadFailure(null);
    importRows.reset();
    if (!file) return;
    setReading(true);
    try {
      const [text, regimens] = await Promise.all([file.text(), loadRegimens()]);
      setParsed({ ...(await readDoseRows(text, regimens)), fileName: file.name });
    } catch (error) {
      setReadFailure({ error, at: Date.now() });
    } finally {
      setReading(false);
    }
  };

  return (
    <section>
      <h1>Import doses</h1>
      <HouseholdNav householdId={householdId} />
      <p>
        A CSV file with a header row naming the columns <code>{importColumns.join(', ')}</code>: the first
        three are required. The file the Reports page downloads has them all. Rows already imported are
        skipped, so a file can be imported again safely.
      </p>
      <label htmlFor={fileId}>CSV file of past doses</label>{' '}
      <input id={fileId} type="file" accept=".csv,text/csv" onChange={onFile} disabled={reading} />
      {reading && <p role="status">Reading the file…</p>}
      {readFailure && <ErrorNotice error={readFailure.error} receivedAt={readFailure.at} />}
      {parsed && (
        <div className="card">
          <p>
            {parsed.fileName}: {parsed.rows.length} {parsed.rows.length === 1 ? 'dose' : 'doses'} ready to
            import.
          </p>
          {parsed.problems.length > 0 && (
            <>
              <p>These lines will not be imported:</p>
              <ul className="problems">
                {parsed.problems.slice(0, 20).map((problem) => (
                  <li key={problem}>{problem}</li>
                ))}
                {parsed.problems.length > 20 && <li>…and {parsed.problems.length - 20} more.</li>}
              </ul>
            </>
          )}
          <button
            type="button"
            className="button-primary"
            disabled={parsed.rows.length === 0 || importRows.isPending}
            onClick={() => importRows.mutate(parsed.rows)}
          >
            Import {parsed.rows.length} {parsed.rows.length === 1 ? 'dose' : 'doses'}
          </button>
        </div>
      )}
      {importRows.isPending && (
        <div role="status">
          <p>Importing…</p>
          {importRows.failureReason ? <ErrorNotice error={importRows.failureReason} /> : null}
        </div>
      )}
      {importRows.isError && (
        <ErrorNotice
          error={importRows.error}
          receivedAt={importRows.submittedAt}
          onRetry={() => parsed && importRows.mutate(parsed.rows)}
        />
      )}
      {importRows.isSuccess && (
        <p role="status" className="success">
          Imported {importRows.data.inserted} of {importRows.data.received} doses; {importRows.data.skipped}{' '}
          were already there.
        </p>
      )}
    </section>
  );
}
