import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import type { RouterOutputs } from '../api/app-router.js';
import { useTRPC } from '../api/trpc.js';
import { ErrorNotice } from '../components/error-notice.js';
import { QueryView } from '../components/query-view.js';
import { Link } from '../routing/router.js';

type Household = RouterOutputs['households']['list'][number];

function HouseholdAnimals({ household }: { household: Household }) {
  const trpc = useTRPC();
  const animals = useQuery(trpc.animals.list.queryOptions({ householdId: household.id }));
  return (
    <QueryView query={animals} what="animals">
      {(list) =>
        list.length === 0 ? (
          <p className="muted">
            No animals yet. <Link to={`/households/${household.id}`}>Add one</Link>
          </p>
        ) : (
          <ul className="animal-links">
            {list.map((animal) => (
              <li key={animal.id}>
                <Link to={`/animals/${animal.id}`}>{animal.name}</Link>
                <span className="muted"> {animal.species}</span>
              </li>
            ))}
          </ul>
        )
      }
    </QueryView>
  );
}

function CreateHousehold() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const nameId = useId();
  const [name, setName] = useState('');
  const create = useMutation({
    ...trpc.households.create.mutationOptions(),
    onSuccess() {
      setName('');
      void queryClient.invalidateQueries({ queryKey: trpc.households.list.queryKey() });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate({ name });
  };
  return (
    <form onSubmit={submit} className="form form-inline">
      <label htmlFor={nameId}>New household name</label>
      <input id={nameId} required value={name} onChange={(event) => setName(event.target.value)} />
      <button type="submit" className="button-secondary" disabled={create.isPending}>
        Create household
      </button>
      {create.isError && <ErrorNotice error={create.error} receivedAt={create.submittedAt} />}
    </form>
  );
}

/** The first page: the person's households, each with its animals. */
export function HouseholdsPage() {
  const trpc = useTRPC();
  const households = useQuery(trpc.households.list.queryOptions());
  return (
    <section>
      <h1>Your households</h1>
      <QueryView query={households} what="households">
        {(list) => (
          <>
            {list.length === 0 && <p>You are not in a household yet. Create one to add your animals.</p>}
            {list.map((household) => (
              <article key={household.id} className="card">
                <h2>
                  <Link to={`/households/${household.id}`}>{household.name}</Link>
                </h2>
                <p className="muted">Your role: {household.role}</p>
                <HouseholdAnimals household={household} />
              </article>
            ))}
          </>
        )}
      </QueryView>
      <CreateHousehold />
    </section>
  );
}
