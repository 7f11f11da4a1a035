import { useQuery } from '@tanstack/react-query';
import type { RouterOutputs } from '../api/app-router.js';
import { useSession } from '../api/session.js';
import { useTRPC } from '../api/trpc.js';
import { QueryView } from '../components/query-view.js';
import { StaleNote } from '../components/stale-note.js';
import { describePendingDose } from '../doses/pending-dose-sender.js';
import { usePendingDoses } from '../doses/pending-doses.js';
import { RecordDose } from '../doses/record-dose.js';
import { describeSchedule, formatAmount, formatDateTime } from '../format.js';
import { Link } from '../routing/router.js';

type Animal = NonNullable<RouterOutputs['animals']['get']>;
type Regimen = Animal['regimens'][number];
type Stock = RouterOutputs['inventory']['list']['value'][number];

/** "tablet" → "tablets" for plain words; abbreviations (mg, ml) stay as they are. */
const unitText = (amount: string, unit: string) =>
  Number(amount) !== 1 && /^[a-z]{4,}$/.test(unit) && !unit.endsWith('s') ? `${unit}s` : unit;

function medicationLabel(regimen: Regimen): string {
  const { medication } = regimen;
  return medication.strength
    ? `${medication.name} ${formatAmount(medication.strength)} ${medication.strengthUnit ?? ''}`.trim()
    : medication.name;
}

function StockLine({ stock }: { stock: Stock | undefined }) {
  if (!stock) return <p className="muted">No stock counted for this medication.</p>;
  const quantity = formatAmount(stock.quantityOnHand);
  const low =
    stock.lowStockThreshold !== null && Number(stock.quantityOnHand) <= Number(stock.lowStockThreshold);
  return (
    <p className={low ? 'stock stock-low' : 'stock'}>
      Stock: <span className="stock-quantity">{quantity}</span> {unitText(stock.quantityOnHand, stock.unit)}
      {low && <strong> (running low)</strong>}
    </p>
  );
}

function Regimens({ animal, userId }: { animal: Animal; userId: string }) {
  const trpc = useTRPC();
  const inventory = useQuery(trpc.inventory.list.queryOptions({ householdId: animal.householdId }));
  const stockOf = (medicationId: string) =>
    inventory.data?.value.find((row) => row.medicationId === medicationId);
  if (animal.regimens.length === 0) return <p>No medications prescribed.</p>;
  return (
    <ul className="regimens">
      {animal.regimens.map((regimen) => {
        const label = medicationLabel(regimen);
        const headingId = `regimen-${regimen.id}`;
        return (
          <li key={regimen.id} className="card" aria-labelledby={headingId}>
            <h3 id={headingId}>{label}</h3>
            <p>
              {formatAmount(regimen.doseAmount)} {unitText(regimen.doseAmount, regimen.doseUnit)},{' '}
              {describeSchedule(regimen)}
              {regimen.instructions ? `. ${regimen.instructions}` : ''}
            </p>
            {inventory.data && <StockLine stock={stockOf(regimen.medicationId)} />}
            {regimen.active ? (
              <RecordDose regimen={regimen} animalId={animal.id} userId={userId} label={label} />
            ) : (
              <p className="muted">Paused: no doses are recorded for it.</p>
            )}
          </li>
        );
      })}
    </ul>
  );
}

function DoseHistory({ animal }: { animal: Animal }) {
  const trpc = useTRPC();
  const history = useQuery(trpc.administrations.history.queryOptions({ animalId: animal.id, limit: 50 }));
  const pending = usePendingDoses().filter((dose) => dose.animalId === animal.id);
  const labels = new Map(animal.regimens.map((regimen) => [regimen.id, medicationLabel(regimen)]));
  return (
    <section aria-labelledby="dose-history">
      <h2 id="dose-history">Dose history</h2>
      {pending.length > 0 && (
        <ul className="pending-doses" aria-label="Doses being recorded">
          {pending.map((dose) => (
            <li key={dose.idempotencyKey}>Sending: {describePendingDose(dose)}</li>
          ))}
        </ul>
      )}
      <QueryView query={history} what="the dose history">
        {(answer) => {
          const doses = answer.value;
          return doses.length === 0 ? (
            <>
              <StaleNote answer={answer} />
              <p>No doses recorded yet.</p>
            </>
          ) : (
            <>
              <StaleNote answer={answer} />
              <table className="history">
                <thead>
                  <tr>
                    <th scope="col">Given</th>
                    <th scope="col">Medication</th>
                    <th scope="col">Amount</th>
                    <th scope="col">Notes</th>
                  </tr>
                </thead>
                <tbody>
                  {doses.map((dose) => (
                    <tr key={dose.id}>
                      <td>{formatDateTime(dose.recordedAt)}</td>
                      <td>{labels.get(dose.regimenId) ?? 'A past prescription'}</td>
                      <td>
                        {formatAmount(dose.doseAmount)} {unitText(dose.doseAmount, dose.doseUnit)}
                      </td>
                      <td>{dose.notes ?? ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          );
        }}
      </QueryView>
    </section>
  );
}

/** An animal: its medications (each with "Record dose" and its stock) and its dose history. */
export function AnimalPage({ animalId }: { animalId: string }) {
  const trpc = useTRPC();
  const session = useSession();
  const animal = useQuery(trpc.animals.get.queryOptions({ animalId }));
  return (
    <QueryView query={animal} what="the animal">
      {(data) =>
        data ? (
          <article>
            <p className="breadcrumb">
              <Link to={`/households/${data.householdId}`}>Back to the household</Link>
            </p>
            <h1>{data.name}</h1>
            <p className="muted">
              {data.species}
              {data.breed ? `, ${data.breed}` : ''}
              {data.weightKg ? `, ${formatAmount(data.weightKg)} kg` : ''}
            </p>
            <section aria-labelledby="medications">
              <h2 id="medications">Medications</h2>
              <Regimens animal={data} userId={session?.user.id ?? ''} />
            </section>
            <DoseHistory animal={data} />
          </article>
        ) : (
          <p>This animal does not exist.</p>
        )
      }
    </QueryView>
  );
}
