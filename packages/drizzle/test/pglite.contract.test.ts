import { PGlite } from '@electric-sql/pglite';
import { drizzle } from '../src/pglite/index.js';
import { runDriverContract } from './contract/driver-contract.js';
import { createNotesTable, notes } from './contract/notes-table.js';

runDriverContract({
  name: 'pglite',
  open: async (_server, safeguards) => {
    const client = new PGlite();
    await client.exec(createNotesTable);
    return {
      db: drizzle({ client, safeguards, schema: { notes } }),
      close: () => client.close(),
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
