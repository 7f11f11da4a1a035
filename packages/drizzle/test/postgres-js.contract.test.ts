import { drizzle } from '../src/postgres-js/index.js';
import { runDriverContract } from './contract/driver-contract.js';
import { notes } from './contract/notes-table.js';
import { postgresJsLines } from './support/postgres-js-lines.js';

for (const line of postgresJsLines)
  runDriverContract({
    name: line.name,
    open: async (server, safeguards, max) => {
      const client = line.open(server.appUrl, { max });
      return {
        db: drizzle({ client, safeguards, schema: { notes } }),
        close: () => client.end({ timeout: 1 }),
      };
    },
    catchesTopLevelQueryMisuse: true,
    usesServer: true,
    statementTimeout: true,
    cancelsOnServer: true,
    interactiveTransactions: true,
  });
