/**
 * `pnpm db:seed`: applies migrations, then creates the demo data (idempotent: run it as often as you
 * like). On a fresh machine with no DATABASE_URL this is all it takes: PGlite stores the data in
 * apps/vetmed/.data/pglite.
 */
import { demoCredentials, seedDemoData } from '../db/index.js';
import { describeTarget, openDatabase } from './open-database.js';

const { config, safeguards, database } = await openDatabase();
try {
  await database.migrate();
  const { createdUser } = await seedDemoData(database.db);
  console.log(`${createdUser ? 'Seeded' : 'Demo data already present in'} ${describeTarget(config)}.`);
  console.log(`Demo sign-in: ${demoCredentials.email} / ${demoCredentials.password}`);
} finally {
  await database.close();
  await safeguards.close({ drainTimeoutMs: 1000 });
}
