import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import { useTRPC } from '../api/trpc.js';
import { ErrorNotice } from '../components/error-notice.js';
import { QueryView } from '../components/query-view.js';
import { Link } from '../routing/router.js';
import { HouseholdGlance } from './household-glance.js';
import { HouseholdNav } from './household-nav.js';

function AddAnimal({ householdId }: { householdId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const nameId = useId();
  const speciesId = useId();
  const [name, setName] = useState('');
  const [species, setSpecies] = useState('');
  const add = useMutation({
    ...trpc.animals.create.mutationOptions(),
    onSuccess() {
      setName('');
      setSpecies('');
      void queryClient.invalidateQueries({ queryKey: trpc.animals.list.queryKey() });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    add.mutate({ householdId, name, species });
  };
  return (
    <form onSubmit={submit} className="form form-inline" aria-label="Add an animal">
      <label htmlFor={nameId}>Animal's name</label>
      <input id={nameId} required value={name} onChange={(event) => setName(event.target.value)} />
      <label htmlFor={speciesId}>Species</label>
      <input id={speciesId} required value={species} onChange={(event) => setSpecies(event.target.value)} />
      <button type="submit" className="button-secondary" disabled={add.isPending}>
        Add animal
      </button>
      {add.isError && <ErrorNotice error={add.error} receivedAt={add.submittedAt} />}
    </form>
  );
}

/** A household: its animals (links to their pages) and its members. */
export function HouseholdPage({ householdId }: { householdId: string }) {
  const trpc = useTRPC();
  const household = useQuery(trpc.households.get.queryOptions({ householdId }));
  const animals = useQuery(trpc.animals.list.queryOptions({ householdId }));
  return (
    <section>
      <QueryView query={household} what="the household">
        {(data) => (
          <>
            <h1>{data.name}</h1>
            <HouseholdNav householdId={householdId} />
            <h2>Animals</h2>
            <QueryView query={animals} what="animals">
              {(list) => (
                <ul className="animal-links">
                  {list.map((animal) => (
                    <li key={animal.id}>
                      <Link to={`/animals/${animal.id}`}>{animal.name}</Link>
                      <span className="muted">
                        {' '}
                        {animal.species}
                        {animal.breed ? `, ${animal.breed}` : ''}
                      </span>
                    </li>
                  ))}
                </ul>
              )}
            </QueryView>
            {data.role !== 'vet' && <AddAnimal householdId={householdId} />}
            <HouseholdGlance householdId={householdId} />
            <h2>Members</h2>
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Email</th>
                  <th scope="col">Role</th>
                </tr>
              </thead>
              <tbody>
                {data.members.map((member) => (
                  <tr key={member.userId}>
                    <td>{member.name}</td>
                    <td>{member.email}</td>
                    <td>{member.role}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </QueryView>
    </section>
  );
}
