import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import type { RouterOutputs } from '../api/app-router.js';
import { useTRPC } from '../api/trpc.js';
import { ErrorNotice } from '../components/error-notice.js';
import { QueryView } from '../components/query-view.js';
import { StaleNote } from '../components/stale-note.js';
import { formatAmount, formatDateTime } from '../format.js';
import { HouseholdNav } from './household-nav.js';

type Stock = RouterOutputs['inventory']['list']['value'][number];

/** Adds to (or, with a negative amount, takes from) one medication's stock. Not retried: it is not idempotent. */
function AdjustStock({ householdId, stock }: { householdId: string; stock: Stock }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const deltaId = useId();
  const [delta, setDelta] = useState('');
  const adjust = useMutation({
    ...trpc.inventory.adjust.mutationOptions(),
    onSuccess() {
      setDelta('');
      void queryClient.invalidateQueries({ queryKey: trpc.inventory.list.queryKey() });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    adjust.mutate({ householdId, medicationId: stock.medicationId, unit: stock.unit, delta: Number(delta) });
  };
  return (
    <form onSubmit={submit} className="form form-inline" aria-label={`Adjust the stock of ${stock.name}`}>
      <label htmlFor={deltaId}>Change ({stock.unit}, negative to remove)</label>
      <input
        id={deltaId}
        inputMode="decimal"
        required
        pattern="-?[0-9]*[.]?[0-9]*"
        value={delta}
        onChange={(event) => setDelta(event.target.value)}
      />
      <button type="submit" className="button-secondary" disabled={adjust.isPending}>
        Adjust
      </button>
      {adjust.isError && <ErrorNotice error={adjust.error} receivedAt={adjust.submittedAt} />}
    </form>
  );
}

export function InventoryPage({ householdId }: { householdId: string }) {
  const trpc = useTRPC();
  const stock = useQuery(trpc.inventory.list.queryOptions({ householdId }));
  return (
    <section>
      <h1>Inventory</h1>
      <HouseholdNav householdId={householdId} />
      <QueryView query={stock} what="the inventory">
        {(answer) => {
          const rows = answer.value;
          return rows.length === 0 ? (
            <>
              <StaleNote answer={answer} />
              <p>No stock counted yet.</p>
            </>
          ) : (
            <>
              <StaleNote answer={answer} />
              <table>
                <thead>
                  <tr>
                    <th scope="col">Medication</th>
                    <th scope="col">In stock</th>
                    <th scope="col">Low at</th>
                    <th scope="col">Updated</th>
                    <th scope="col">Adjust</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((row) => {
                    const low =
                      row.lowStockThreshold !== null &&
                      Number(row.quantityOnHand) <= Number(row.lowStockThreshold);
                    return (
                      <tr key={row.medicationId} className={low ? 'stock-low' : undefined}>
                        <th scope="row">{row.name}</th>
                        <td>
                          {formatAmount(row.quantityOnHand)} {row.unit}
                          {low && <strong> (running low)</strong>}
                        </td>
                        <td>{row.lowStockThreshold === null ? '' : formatAmount(row.lowStockThreshold)}</td>
                        <td>{formatDateTime(row.updatedAt)}</td>
                        <td>
                          <AdjustStock householdId={householdId} stock={row} />
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </>
          );
        }}
      </QueryView>
    </section>
  );
}
