import { PGlite } from '@electric-sql/pglite';
import { afterAll } from 'vitest';
import { drizzle } from '../src/pglite/index.js';
import { runDriverContract } from './contract/driver-contract.js';
import { createNotesTable, notes } from './contract/notes-table.js';

// One PGlite for the file (a fresh one takes seconds to start); each test gets a new safeguarded
// database over it and leaves the table empty.
let shared: Promise<PGlite> | undefined;
const pglite = () => {
  shared ??= (async () => {
    const client = new PGlite();
    await client.exec(createNotesTable);
    return client;
  })();
  return shared;
};

afterAll(async () => {
  await (await shared)?.close();
});

runDriverContract({
  name: 'pglite',
  open: async (_server, safeguards) => {
    const client = await pglite();
    return {
      db: drizzle({ client, safeguards, schema: { notes } }),
      close: async () => {
        await client.exec('delete from notes');
      },
      countNotes: async () =>
        (await client.query<{ n: number }>('select count(*)::int as n from notes')).rows[0]!.n,
    };
  },
  catchesTopLevelQueryMisuse: true,
  usesServer: false,
  statementTimeout: false,
  cancelsOnServer: false,
  interactiveTransactions: true,
});
