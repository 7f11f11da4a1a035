import pg from 'pg';
import { drizzle } from '../src/node-postgres/index.js';
import { runDriverContract } from './contract/driver-contract.js';
import { notes } from './contract/notes-table.js';

runDriverContract({
  name: 'node-postgres Pool',
  open: async (server, safeguards, max) => {
    const client = new pg.Pool({ connectionString: server.appUrl, max });
    return { db: drizzle({ client, safeguards, schema: { notes } }), close: () => client.end() };
  },
  catchesTopLevelQueryMisuse: true,
  usesServer: true,
  statementTimeout: true,
  cancelsOnServer: true,
  interactiveTransactions: true,
});

runDriverContract({
  name: 'node-postgres Client',
  open: async (server, safeguards) => {
    const client = new pg.Client({ connectionString: server.appUrl });
    const db = drizzle({ client, safeguards, schema: { notes } });
    await client.connect();
    return { db, close: () => client.end() };
  },
  catchesTopLevelQueryMisuse: false,
  usesServer: true,
  statementTimeout: true,
  cancelsOnServer: true,
  interactiveTransactions: true,
});
