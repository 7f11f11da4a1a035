import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../api/trpc.js';
import { QueryView } from '../components/query-view.js';
import { formatAmount } from '../format.js';

/**
 * The household at a glance, from `households.overview`: stock running low and this week's doses per
 * medication. The server gathers the parts independently; a part it could not load (the weekly
 * summary is a report, the first thing given up under load) is named here with why, and the rest
 * is shown as usual.
 */
export function HouseholdGlance({ householdId }: { householdId: string }) {
  const trpc = useTRPC();
  const overview = useQuery(trpc.households.overview.queryOptions({ householdId }));
  return (
    <section aria-labelledby="at-a-glance" className="glance">
      <h2 id="at-a-glance">At a glance</h2>
      <QueryView query={overview} what="the overview">
        {(data) => {
          const low = data.stock?.filter((row) => row.low) ?? [];
          return (
            <>
              {data.stock &&
                (low.length === 0 ? (
                  <p>No medication is running low.</p>
                ) : (
                  <p>
                    Running low:{' '}
                    {low
                      .map((row) => `${row.name} (${formatAmount(row.quantityOnHand)} ${row.unit})`)
                      .join(', ')}
                    .
                  </p>
                ))}
              {data.adherence && (
                <ul className="adherence" aria-label="Doses this week">
                  {data.adherence.map((row) => (
                    <li key={row.regimenId}>
                      {row.animal}, {row.medication}: {row.recorded}
                      {row.expected === null ? '' : ` of ${row.expected}`} doses this week
                    </li>
                  ))}
                </ul>
              )}
              {data.missing.map((part) => (
                <p key={part} className="part-missing" role="status" data-missing-part={part}>
                  {partNames[part]} is not available right now: {data.unavailable[part]?.message}
                </p>
              ))}
            </>
          );
        }}
      </QueryView>
    </section>
  );
}

const partNames = {
  household: 'The household',
  animals: 'The list of animals',
  stock: 'The stock',
  adherence: "This week's summary",
} as const;
