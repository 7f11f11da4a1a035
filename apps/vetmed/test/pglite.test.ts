import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll } from 'vitest';
import { createDatabase } from '../src/db/index.js';
import { describeDatabaseContract } from './contract/database-contract.js';

// One in-memory PGlite for the file; each test opens a database (and fresh safeguards) on it.
let pglite: PGlite;

beforeAll(async () => {
  pglite = await PGlite.create();
});

afterAll(async () => {
  await pglite?.close();
});

describeDatabaseContract(
  'PGlite (in memory)',
  () => ({ open: (safeguards) => createDatabase({ config: { driver: 'pglite' }, pglite, safeguards }) }),
  { realServer: false },
);
