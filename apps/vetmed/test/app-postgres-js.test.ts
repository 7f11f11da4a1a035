import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { afterAll, beforeAll } from 'vitest';
import { type AppTarget, describeAppContract } from './app/app-contract.js';

let server: TestPostgres;
let target: AppTarget;

beforeAll(async () => {
  // A throwaway server (or TEST_DATABASE_URL) whose app role has CONNECTION LIMIT 8; the app runs as that role.
  server = await startTestPostgres({ appRoleConnectionLimit: 8 });
  target = {
    env: { DATABASE_URL: server.appUrl, DB_DRIVER: 'postgres' },
    server: {
      connectionLimit: server.appConnectionLimit,
      sampleConnections: () => server.sampleAppConnections(5),
    },
  };
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

describeAppContract('postgres.js on PostgreSQL (role limited to 8 connections)', () => target);
