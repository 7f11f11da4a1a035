import { neon, neonConfig } from '@neondatabase/serverless';
import { afterAll, beforeAll } from 'vitest';
import { drizzle } from '../src/neon-http/index.js';
import { runDriverContract } from './contract/driver-contract.js';
import { notes } from './contract/notes-table.js';
import { type NeonHttpStandIn, startNeonHttpStandIn } from './support/neon-http-stand-in.js';

let standIn: NeonHttpStandIn;

beforeAll(async () => {
  standIn = await startNeonHttpStandIn();
  neonConfig.fetchEndpoint = () => standIn.url; // global to the driver: this file's only Neon user
});

afterAll(async () => {
  await standIn?.close();
});

runDriverContract({
  name: 'neon-http (local /sql stand-in)',
  open: async (server, safeguards) => ({
    db: drizzle({ client: neon(server.appUrl), safeguards, schema: { notes } }),
    close: async () => {},
  }),
  catchesTopLevelQueryMisuse: false,
  usesServer: true,
  statementTimeout: false,
  cancelsOnServer: true,
  interactiveTransactions: false,
});
