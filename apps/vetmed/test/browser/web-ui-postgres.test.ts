import { startTestPostgres, type TestPostgres } from '@db-safeguards/test-postgres';
import { afterAll, beforeAll } from 'vitest';
import { describeWebUi, type WebUiTarget } from './web-ui-suite.js';

let server: TestPostgres;
let target: WebUiTarget;

beforeAll(async () => {
  // A throwaway server (or TEST_DATABASE_URL) whose app role has CONNECTION LIMIT 8.
  server = await startTestPostgres({ appRoleConnectionLimit: 8 });
  target = { env: { DATABASE_URL: server.appUrl, DB_DRIVER: 'postgres' }, burstSlots: 2 };
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

describeWebUi('postgres.js on PostgreSQL (role limited to 8 connections)', () => target, {
  clientTests: false,
});
