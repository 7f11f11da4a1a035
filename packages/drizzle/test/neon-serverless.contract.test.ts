import { configureNeonForLocalProxy, type NeonWsProxy, startNeonWsProxy } from '@db-safeguards/test-postgres';
import { Pool as NeonPool, neonConfig } from '@neondatabase/serverless';
import { afterAll, beforeAll } from 'vitest';
import { drizzle } from '../src/neon-serverless/index.js';
import { runDriverContract } from './contract/driver-contract.js';
import { notes } from './contract/notes-table.js';

let proxy: NeonWsProxy;

beforeAll(async () => {
  proxy = await startNeonWsProxy();
  configureNeonForLocalProxy(neonConfig, proxy); // global to the driver: this file's only Neon user
});

afterAll(async () => {
  await proxy?.close();
});

runDriverContract({
  name: 'neon-serverless Pool (local WebSocket proxy)',
  open: async (server, safeguards, max) => {
    const client = new NeonPool({ connectionString: server.appUrl, max });
    return { db: drizzle({ client, safeguards, schema: { notes } }), close: () => client.end() };
  },
  catchesTopLevelQueryMisuse: true,
  usesServer: true,
  statementTimeout: true,
  cancelsOnServer: true,
  interactiveTransactions: true,
});
